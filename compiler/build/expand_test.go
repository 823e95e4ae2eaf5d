package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/apk/expandapk"

	"github.com/hic-build/hic/compiler/resolve"
)

// apkoTestPackage is one of apko's real test packages (path under its
// testdata), apko's own expansion of it, and the package as a lock names it.
func apkoTestPackage(t *testing.T, file string) (*expandapk.APKExpanded, resolve.Package) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exp, err := expandapk.ExpandApk(context.Background(), f, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.Close() })
	control, err := os.ReadFile(exp.ControlFile)
	if err != nil {
		t.Fatal(err)
	}
	info, err := pkginfo(control)
	if err != nil {
		t.Fatal(err)
	}
	return exp, resolve.Package{Name: info["pkgname"], Version: info["pkgver"], Checksum: "Q1" + base64.StdEncoding.EncodeToString(exp.ControlHash)}
}

// apkoTestdata is the directory of apko's test packages.
func apkoTestdata(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(strings.TrimSpace(string(gomod)), "chainguard.dev/apko@v0.30.34/pkg/apk/apk/testdata")
}

// TestExpandedEntryIsApkos: the package cache entry verifyPackage writes
// for each of apko's real test packages (Wolfi and Alpine, signed) holds
// the files apko's own ExpandApk makes of it, under the names apko's
// cachePackage gives them, byte for byte.
func TestExpandedEntryIsApkos(t *testing.T) {
	root := apkoTestdata(t)
	var apks []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".apk") {
			apks = append(apks, p)
		}
		return err
	})
	if len(apks) < 5 {
		t.Fatalf("%d of apko's test packages found under %s", len(apks), root)
	}
	for _, file := range apks {
		t.Run(strings.TrimPrefix(file, root+"/"), func(t *testing.T) {
			exp, p := apkoTestPackage(t, file)
			st, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			entry := filepath.Join(t.TempDir(), "repo", "x86_64", p.Name+"-"+p.Version)
			if placed, _, err := verifyPackage(file, p, uint64(st.Size()), entry); err != nil || !placed {
				t.Fatal(err)
			}
			ctl, dat := hex.EncodeToString(exp.ControlHash), hex.EncodeToString(exp.PackageHash)
			want := map[string]string{ctl + ".ctl.tar.gz": exp.ControlFile, dat + ".dat.tar.gz": exp.PackageFile, dat + ".dat.tar": exp.TarFile}
			if exp.SignatureFile != "" {
				want[ctl+".sig.tar.gz"] = exp.SignatureFile
			}
			ents, err := os.ReadDir(entry)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != len(want) {
				t.Errorf("entry holds %d files, apko makes %d: %v", len(ents), len(want), ents)
			}
			for name, apko := range want {
				got, err := os.ReadFile(filepath.Join(entry, name))
				if err != nil {
					t.Errorf("apko's %s: %v", name, err)
					continue
				}
				w, err := os.ReadFile(apko)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, w) {
					t.Errorf("%s: %d bytes, apko's %d, not the same", name, len(got), len(w))
				}
			}
			if why, err := checkCachedPackage(entry, p, nil, false); err != nil || why != "" {
				t.Errorf("the entry fails hic's own check: %q, %v", why, err)
			}
		})
	}
}

// TestExpansionOnlyOfGoodFiles: a package file whose data segment is
// altered fails verification and leaves no entry, nor anything beside it.
func TestExpansionOnlyOfGoodFiles(t *testing.T) {
	file := filepath.Join(apkoTestdata(t), "hello-wolfi-2.12.1-r0.apk")
	_, p := apkoTestPackage(t, file)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-100] ^= 1 // in the data segment
	bad := filepath.Join(t.TempDir(), "hello.apk")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(t.TempDir(), "x86_64")
	entry := filepath.Join(parent, p.Name+"-"+p.Version)
	if _, _, err := verifyPackage(bad, p, 0, entry); err == nil || !strings.Contains(err.Error(), "data") {
		t.Fatalf("altered data segment: %v", err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestFileSumsAsApkoChecks: the data of apko's real test packages passes
// the per-file SHA-1 check, and a file whose content is not its record's
// fails it (apko's ExpandApk refuses such a package, so hic makes no
// entry of it).
func TestFileSumsAsApkoChecks(t *testing.T) {
	exp, _ := apkoTestPackage(t, filepath.Join(apkoTestdata(t), "hello-wolfi-2.12.1-r0.apk"))
	data, err := os.ReadFile(exp.TarFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFileSums(bytes.NewReader(data)); err != nil {
		t.Errorf("apko's own package: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("not what the record says\n")
	tw.WriteHeader(&tar.Header{Name: "usr/bin/x", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(body)),
		PAXRecords: map[string]string{"APK-TOOLS.checksum.SHA1": strings.Repeat("00", 20)}})
	tw.Write(body)
	tw.Close()
	if err := checkFileSums(&buf); err == nil || !strings.Contains(err.Error(), "usr/bin/x") {
		t.Errorf("a file unlike its checksum record: %v", err)
	}
}

// TestEntryMadeMeanwhileIsNotClaimed: when the entry appears while hic
// reads the file (another process made it, or someone planted it), hic
// leaves it and says it placed nothing, so it is checked before apko
// reads it.
func TestEntryMadeMeanwhileIsNotClaimed(t *testing.T) {
	file := filepath.Join(apkoTestdata(t), "hello-wolfi-2.12.1-r0.apk")
	_, p := apkoTestPackage(t, file)
	entry := filepath.Join(t.TempDir(), "x86_64", p.Name+"-"+p.Version)
	x, err := newExpansion(entry, "c", "d", nil, []byte("control"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.abort()
	x.ok = true
	if err := os.MkdirAll(filepath.Join(entry, "planted"), 0o755); err != nil {
		t.Fatal(err)
	}
	if placed, err := x.commit(); err != nil || placed {
		t.Errorf("commit over an entry made meanwhile: placed %v, %v", placed, err)
	}
	if _, err := os.Stat(filepath.Join(entry, "planted")); err != nil {
		t.Errorf("the entry made meanwhile was replaced: %v", err)
	}
}
