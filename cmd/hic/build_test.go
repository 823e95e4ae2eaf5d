package main

// Acceptance tests of `hic build` (issue 4): the example image runs, builds
// are reproducible across output and mirror directories, incremental,
// safe against tampered mirrors, and survive SIGKILL. Everything runs
// offline against signed local repositories generated here.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"gopkg.in/yaml.v3"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/examples/hellorepo"
)

const (
	// bldCatalog has 3 images x 2 streams x 2 distros x 2 variants = 24 specs.
	bldCatalog      = "testdata/build/catalog"
	bldCatalogSpecs = 24
	// bldIntegrity has keep (wolfi, alpine-3.23), fresh (alpine-3.23) and
	// victim (wolfi), runtime only.
	bldIntegrity = "testdata/build/integrity"
	bldWolfiURL  = "https://packages.wolfi.dev/os"
	bldToday     = "2026-11-27"
)

// bldBuild runs hic build on catalog and fails the test unless it exits with want.
func bldBuild(t *testing.T, want int, catalog string, args ...string) (stdout, stderr string) {
	t.Helper()
	r := hicCLI(t, nil, append([]string{"-C", catalog, "build", "--today", bldToday, "--jobs", "2"}, args...)...).must(t, want)
	return r.Stdout, r.Stderr
}

// bldKey makes a signing key pair with hic keygen and returns the private key's path.
func bldKey(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	hicCLI(t, nil, "keygen", "--out", dir).must(t, 0)
	return filepath.Join(dir, "hic.key")
}

// bldMirror generates a signed local mirror of catalog with hic mirror.
func bldMirror(t *testing.T, catalog, dir string, extra ...string) {
	t.Helper()
	args := append([]string{"-C", catalog, "mirror", "--out", dir}, extra...)
	hicCLI(t, nil, args...).must(t, 0)
}

// bldCopyDir copies the tree src to dst (regular files, dirs and symlinks).
func bldCopyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func bldReport(t *testing.T, out string) map[string]report.SpecReport {
	t.Helper()
	r, err := report.ReadReport(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]report.SpecReport{}
	for _, s := range r.Specs {
		m[s.Ref] = s
	}
	return m
}

// bldEntries returns the raw index.json entries of a layout by spec ref, in
// file order: the image entries (one per tag) and the referrers.
func bldEntries(t *testing.T, oci string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oci, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, raw := range idx.Manifests {
		var d v1.Descriptor
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		ref := d.Annotations[store.AnnotationSpecRef]
		m[ref] = append(m[ref], string(raw))
	}
	return m
}

// bldPlatformImage returns the image of platform ("linux/amd64") of the spec
// specRef from the layout oci.
func bldPlatformImage(t *testing.T, oci, specRef, platform string) v1.Image {
	t.Helper()
	ii, err := layout.ImageIndexFromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations[store.AnnotationSpecRef] != specRef || d.Annotations[store.AnnotationRefName] == "" {
			continue
		}
		idx, err := ii.ImageIndex(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		pm, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pm.Manifests {
			if c.Platform != nil && c.Platform.OS+"/"+c.Platform.Architecture == platform {
				img, err := idx.Image(c.Digest)
				if err != nil {
					t.Fatal(err)
				}
				return img
			}
		}
		t.Fatalf("%s: no %s image in %s", specRef, platform, d.Digest)
	}
	t.Fatalf("%s: no tagged entry in %s/index.json", specRef, oci)
	return nil
}

// bldFiles returns the regular files of an image's flattened filesystem
// (mutate.Extract), by path without a leading slash.
func bldFiles(t *testing.T, img v1.Image) map[string][]byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(bldClean(h.Name), "/")] = b
		}
	}
}

func bldClean(name string) string { return filepath.ToSlash(filepath.Clean("/" + name)) }

// bldExtract writes an image's flattened filesystem (mutate.Extract) to dir:
// directories, regular files, symlinks and hard links, permission bits only.
func bldExtract(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(bldClean(h.Name)))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, mode|0o700)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode|0o600); err == nil {
				_, err = io.Copy(f, tr)
				err = errors.Join(err, f.Close())
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, target)
		case tar.TypeLink:
			err = os.Link(filepath.Join(dir, filepath.FromSlash(bldClean(h.Linkname))), target)
		}
		if err != nil {
			t.Fatalf("extract %s: %v", h.Name, err)
		}
	}
}

// bldBwrap returns the path of bwrap or fails the test.
func bldBwrap(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("bwrap")
	if err != nil {
		t.Fatal("bubblewrap (bwrap) is not installed: run .ci/tools.sh (make tools)")
	}
	return p
}

// TestExampleHello builds examples/: the real static hello program for
// amd64 and arm64 in a signed local repository, the example catalog with
// hic build --mirror, then runs the entrypoint inside the linux/amd64 root
// filesystem with bubblewrap as uid 65532.
func TestExampleHello(t *testing.T) {
	bwrap := bldBwrap(t)
	ctx := t.Context()
	tmp := t.TempDir()
	bins, err := hellorepo.BuildBinaries(ctx, "../..", filepath.Join(tmp, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := hellorepo.Write(ctx, filepath.Join(tmp, "mirror"), bins)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	bldBuild(t, 0, "../../examples/catalog", "--all", "--mirror", hellorepo.URL+"="+repo.Dir, "--out", out, "--key", bldKey(t))
	rep := bldReport(t, out)
	const ref = "hello:1-wolfi-runtime"
	for _, r := range []string{ref, "hello:1-wolfi-dev"} {
		if s := rep[r]; s.Status != report.StatusBuilt || len(s.Findings) != 0 {
			t.Errorf("%s: status %s, findings %v, error %q", r, s.Status, s.Findings, s.Error)
		}
		// The spec's smoke test ran in the build and passed on the real program.
		passed := false
		for _, tr := range rep[r].Tests {
			if tr.Platform == "linux/amd64" && tr.Status == "passed" && !tr.Synthetic {
				passed = true
			}
		}
		if !passed {
			t.Errorf("%s: smoke tests %+v, want greets passed on linux/amd64", r, rep[r].Tests)
		}
	}

	// Each platform holds the binary of its architecture.
	oci := filepath.Join(out, "oci")
	for platform, machine := range map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64} {
		b := bldFiles(t, bldPlatformImage(t, oci, ref, platform))["usr/bin/hello"]
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: /usr/bin/hello: %v", platform, err)
		}
		if f.Machine != machine {
			t.Errorf("%s: /usr/bin/hello is for %s, want %s", platform, f.Machine, machine)
		}
		f.Close()
	}

	rootfs := filepath.Join(tmp, "rootfs")
	bldExtract(t, bldPlatformImage(t, oci, ref, "linux/amd64"), rootfs)
	bwrapRun := func(argv ...string) string {
		t.Helper()
		args := append([]string{"--unshare-all", "--uid", "65532", "--gid", "65532",
			"--bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--clearenv", "--"}, argv...)
		cmd := exec.CommandContext(ctx, bwrap, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("bwrap %s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
		}
		return string(b)
	}
	want := "Hello, world! I am a hic image running as uid=65532 gid=65532 on linux/amd64.\n"
	if got := bwrapRun("/usr/bin/hello"); got != want {
		t.Errorf("/usr/bin/hello printed %q, want %q", got, want)
	}
	// The spec's own smoke tests, from its compiled form.
	b, err := os.ReadFile(filepath.Join(out, "compiled", compile.FileName(ref)))
	if err != nil {
		t.Fatal(err)
	}
	var img compile.Image
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	if len(img.Tests) == 0 {
		t.Fatalf("%s has no tests", ref)
	}
	for _, tc := range img.Tests {
		if got := bwrapRun(tc.Command...); !strings.Contains(got, tc.Expect) {
			t.Errorf("test %s: %v printed %q, want it to contain %q", tc.Name, tc.Command, got, tc.Expect)
		}
	}
	// The runtime image has no shell to fall back on.
	if _, err := os.Lstat(filepath.Join(rootfs, "bin", "sh")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("runtime image has /bin/sh (%v)", err)
	}
}

// TestBuildReproducibleIncremental builds the 24 specs of the test catalog
// twice, into different output directories from two copies of the same
// mirror at different paths, and wants identical image digests and no host
// path in the images; then rebuilds with nothing changed and wants every
// spec cached without apko reading a package.
func TestBuildReproducibleIncremental(t *testing.T) {
	tmp := t.TempDir()
	mirrorA := filepath.Join(tmp, "a", "mirror")
	bldMirror(t, bldCatalog, mirrorA)
	mirrorB := filepath.Join(tmp, "b", "elsewhere", "mirror-copy")
	bldCopyDir(t, mirrorA, mirrorB)
	outA, outB := filepath.Join(tmp, "a", "out"), filepath.Join(tmp, "b", "other-out")

	start := time.Now()
	// Unsigned: signatures are not deterministic, and the whole layouts
	// are compared byte for byte.
	bldBuild(t, 0, bldCatalog, "--all", "--mirrors", mirrorA, "--out", outA, "--unsigned")
	cold := time.Since(start)
	bldBuild(t, 0, bldCatalog, "--all", "--mirrors", mirrorB, "--out", outB, "--cache-dir", filepath.Join(tmp, "b", "cache"), "--unsigned")
	repA, repB := bldReport(t, outA), bldReport(t, outB)

	t.Run("reproducible", func(t *testing.T) {
		if len(repA) != bldCatalogSpecs {
			t.Fatalf("built %d specs, want %d", len(repA), bldCatalogSpecs)
		}
		for ref, a := range repA {
			b := repB[ref]
			if a.Status != report.StatusBuilt || b.Status != report.StatusBuilt {
				t.Errorf("%s: status %s and %s, want built (%s%s)", ref, a.Status, b.Status, a.Error, b.Error)
			}
			if a.ImageDigest == "" || a.ImageDigest != b.ImageDigest {
				t.Errorf("%s: image digest %q in %s, %q in %s", ref, a.ImageDigest, outA, b.ImageDigest, outB)
			}
			if a.InputDigest != b.InputDigest {
				t.Errorf("%s: input digest %s and %s", ref, a.InputDigest, b.InputDigest)
			}
		}
		// The layouts are the same, byte for byte.
		ia, _ := os.ReadFile(filepath.Join(outA, "oci", "index.json"))
		ib, _ := os.ReadFile(filepath.Join(outB, "oci", "index.json"))
		if !bytes.Equal(ia, ib) {
			t.Errorf("index.json differs between %s and %s", outA, outB)
		}
		// No host path in the image: the repositories are the catalog's.
		for _, ref := range []string{"alpha:2-wolfi-runtime", "beta:3.1-alpine-3.23-dev"} {
			for _, platform := range []string{"linux/amd64", "linux/arm64"} {
				files := bldFiles(t, bldPlatformImage(t, filepath.Join(outB, "oci"), ref, platform))
				repos := string(files["etc/apk/repositories"])
				want := bldWolfiURL + "\n"
				if strings.Contains(ref, "alpine") {
					// hic writes the runtime repositories sorted.
					want = "https://dl-cdn.alpinelinux.org/alpine/v3.23/community\nhttps://dl-cdn.alpinelinux.org/alpine/v3.23/main\n"
				}
				if repos != want {
					t.Errorf("%s %s: /etc/apk/repositories is %q, want %q", ref, platform, repos, want)
				}
				for name, b := range files {
					for _, host := range []string{tmp, mirrorB, outB, os.TempDir() + "/"} {
						if bytes.Contains(b, []byte(host)) {
							t.Errorf("%s %s: /%s holds the host path %s", ref, platform, name, host)
						}
					}
				}
			}
		}
	})

	t.Run("incremental", func(t *testing.T) {
		// Without package files, any build would fail: a cached spec must
		// not need them (resolving reads only the signed indexes).
		removed := 0
		err := filepath.WalkDir(mirrorB, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".apk") {
				removed++
				return os.Remove(p)
			}
			return err
		})
		if err != nil || removed == 0 {
			t.Fatalf("removed %d packages: %v", removed, err)
		}
		before, err := os.ReadFile(filepath.Join(outB, "oci", "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, stderr := bldBuild(t, 0, bldCatalog, "--all", "--mirrors", mirrorB, "--out", outB, "--cache-dir", filepath.Join(tmp, "b", "cache"), "--unsigned")
		warm := time.Since(start)
		rep := bldReport(t, outB)
		for ref, a := range repA {
			if r := rep[ref]; r.Status != report.StatusCached || r.ImageDigest != a.ImageDigest {
				t.Errorf("%s: %s %s, want cached %s (%s)", ref, r.Status, r.ImageDigest, a.ImageDigest, r.Error)
			}
		}
		if want := fmt.Sprintf("0 built, %d cached, 0 failed", bldCatalogSpecs); !strings.Contains(stderr, want) {
			t.Errorf("summary does not say %q:\n%s", want, stderr)
		}
		after, err := os.ReadFile(filepath.Join(outB, "oci", "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Error("index.json changed in a build with nothing to do")
		}
		if err := store.Validate(filepath.Join(outB, "oci")); err != nil {
			t.Error(err)
		}
		t.Logf("cold build %v, incremental %v (catalog load included in both)", cold, warm)
	})
}

// bldSigner signs APK indexes like apk-tools: a gzip stream holding one tar
// entry ".SIGN.RSA256.<name>" (no end-of-archive blocks) before the index.
type bldSigner struct {
	keyFile string // "name.rsa.pub"
	priv    *rsa.PrivateKey
}

func (s bldSigner) segment(t *testing.T, signed []byte) []byte {
	t.Helper()
	d := sha256.Sum256(signed)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.priv, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: ".SIGN.RSA256." + s.keyFile, Mode: 0o644, Size: int64(len(sig)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(sig); err != nil {
		t.Fatal(err)
	}
	if err := tw.Flush(); err != nil { // no Close: apk signature segments have no end-of-archive
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bldMirrorSigner loads the private key hic mirror keeps for name.
func bldMirrorSigner(t *testing.T, mirror, name string) bldSigner {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mirror, "signing-keys", name+".rsa"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block in the mirror's key")
	}
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		k8, err8 := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err8 != nil {
			t.Fatal(err)
		}
		k = k8.(*rsa.PrivateKey)
	}
	return bldSigner{keyFile: name + ".rsa.pub", priv: k}
}

// bldResign replaces the signature of the index at path by one from s,
// after letting edit change the index (edit may be nil).
func bldResign(t *testing.T, path string, s bldSigner, edit func(*apk.APKIndex)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatal(err)
	}
	signed := b[len(b)-br.Len():]
	if edit != nil {
		idx, err := apk.IndexFromArchive(io.NopCloser(bytes.NewReader(signed)))
		if err != nil {
			t.Fatal(err)
		}
		edit(idx)
		r, err := apk.ArchiveFromIndex(idx)
		if err != nil {
			t.Fatal(err)
		}
		if signed, err = io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, append(s.segment(t, signed), signed...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBuildIntegrity builds keep (wolfi and alpine) from a good mirror, then
// breaks the mirror in one way per case and builds the whole catalog: the
// specs the break affects fail with a message naming the spec, the package
// and the repository; fresh (alpine) builds; keep's layout entries stay byte
// for byte; the layout stays valid and hic exits 1.
func TestBuildIntegrity(t *testing.T) {
	tmp := t.TempDir()
	good := filepath.Join(tmp, "mirror")
	bldMirror(t, bldIntegrity, good)
	base := filepath.Join(tmp, "base")
	// Signed: keep's entries include its signature and attestations.
	key := bldKey(t)
	bldBuild(t, 0, bldIntegrity, "keep", "--mirrors", good, "--out", base, "--key", key)
	keepEntries := bldEntries(t, filepath.Join(base, "oci"))
	keepRefs := []string{"keep:1-alpine-3.23-runtime", "keep:1-wolfi-runtime"}
	for _, r := range keepRefs {
		if len(keepEntries[r]) == 0 {
			t.Fatalf("no layout entries for %s after the good build", r)
		}
	}

	const (
		victim    = "victim:1-wolfi-runtime"
		victimPkg = "victim-1.0.0-r0"
		victimApk = "wolfi/x86_64/" + victimPkg + ".apk"
		wolfiIdx  = "wolfi/x86_64/APKINDEX.tar.gz"
	)
	mirrorKey := func(t *testing.T, m string) *apkrepo.Key {
		k, err := apkrepo.LoadKey(filepath.Join(m, "signing-keys", "wolfi-signing.rsa"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	freshSigner := func(t *testing.T, name string) bldSigner {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return bldSigner{keyFile: name + ".rsa.pub", priv: k}
	}
	cases := []struct {
		name   string
		break_ func(t *testing.T, m string)
		// failed are the specs that must fail, each with every substring of
		// its want list in its report error and on stderr.
		failed map[string][]string
	}{
		{
			name: "package swapped after the index was signed",
			break_: func(t *testing.T, m string) {
				evil, err := apkrepo.BuildAPK(apkrepo.Package{Name: "victim", Version: "1.0.0-r0", Arch: "x86_64",
					Files: []apkrepo.File{{Path: "usr/bin/victim", Mode: 0o755, Data: []byte("#!/bin/sh\necho pwned\n")}}}, mirrorKey(t, m))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(m, victimApk), evil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			failed: map[string][]string{victim: {victimPkg, bldWolfiURL, "replaced after the index was signed"}},
		},
		{
			name: "index signed by an unknown key",
			break_: func(t *testing.T, m string) {
				bldResign(t, filepath.Join(m, wolfiIdx), freshSigner(t, "attacker"), nil)
			},
			failed: map[string][]string{
				victim:                 {"victim", bldWolfiURL, "attacker.rsa.pub"},
				"keep:1-wolfi-runtime": {"keep", bldWolfiURL, "attacker.rsa.pub"},
			},
		},
		{
			name: "index signed by another key of the trusted name",
			break_: func(t *testing.T, m string) {
				bldResign(t, filepath.Join(m, wolfiIdx), freshSigner(t, "wolfi-signing"), nil)
			},
			failed: map[string][]string{
				victim:                 {"victim", bldWolfiURL, "signature"},
				"keep:1-wolfi-runtime": {"keep", bldWolfiURL, "signature"},
			},
		},
		{
			name: "truncated package",
			break_: func(t *testing.T, m string) {
				p := filepath.Join(m, victimApk)
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, fi.Size()*2/3); err != nil {
					t.Fatal(err)
				}
			},
			failed: map[string][]string{victim: {victimPkg, bldWolfiURL}},
		},
		{
			name: "missing dependency",
			break_: func(t *testing.T, m string) {
				bldResign(t, filepath.Join(m, wolfiIdx), bldMirrorSigner(t, m, "wolfi-signing"), func(idx *apk.APKIndex) {
					for _, p := range idx.Packages {
						if p.Name == "victim" {
							p.Dependencies = append(p.Dependencies, "libgone")
						}
					}
				})
			},
			failed: map[string][]string{victim: {"victim", "libgone", bldWolfiURL}},
		},
	}
	for i, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			// A fresh copy of the mirror and of the good output per case:
			// a new mirror path also keeps apko's process-wide index cache
			// (keyed by path and mtime) out of the picture.
			m := filepath.Join(tmp, fmt.Sprintf("case%d", i), "mirror")
			out := filepath.Join(tmp, fmt.Sprintf("case%d", i), "out")
			bldCopyDir(t, good, m)
			bldCopyDir(t, base, out)
			tc.break_(t, m)

			_, stderr := bldBuild(t, exitFindings, bldIntegrity, "--all", "--mirrors", m, "--out", out, "--key", key)
			rep := bldReport(t, out)
			if len(rep) != 4 {
				t.Errorf("report has %d specs, want 4", len(rep))
			}
			for ref, want := range tc.failed {
				r := rep[ref]
				if r.Status != report.StatusFailed {
					t.Errorf("%s: status %s, want failed", ref, r.Status)
					continue
				}
				t.Logf("%s: %s", ref, r.Error)
				for _, w := range append([]string{ref}, want...) {
					if !strings.Contains(r.Error, w) {
						t.Errorf("%s: error does not name %q:\n%s", ref, w, r.Error)
					}
				}
				if !strings.Contains(stderr, r.Error) && !strings.Contains(stderr, ref) {
					t.Errorf("stderr does not show the failure of %s:\n%s", ref, stderr)
				}
			}
			if r := rep["fresh:1-alpine-3.23-runtime"]; r.Status != report.StatusBuilt {
				t.Errorf("fresh: status %s (%s), want built", r.Status, r.Error)
			}
			for _, ref := range keepRefs {
				if _, failed := tc.failed[ref]; !failed && rep[ref].Status != report.StatusCached {
					t.Errorf("%s: status %s (%s), want cached", ref, rep[ref].Status, rep[ref].Error)
				}
			}
			entries := bldEntries(t, filepath.Join(out, "oci"))
			for _, ref := range keepRefs {
				if !slices.Equal(entries[ref], keepEntries[ref]) {
					t.Errorf("%s: layout entries changed:\n%v\nwant\n%v", ref, entries[ref], keepEntries[ref])
				}
			}
			if len(entries[victim]) != 0 {
				t.Errorf("%s failed but has layout entries: %v", victim, entries[victim])
			}
			if len(entries["fresh:1-alpine-3.23-runtime"]) == 0 {
				t.Error("fresh was built but has no layout entries")
			}
			if err := store.Validate(filepath.Join(out, "oci")); err != nil {
				t.Error(err)
			}
		})
	}
}

// bldProgressLine matches the first plain progress line: "[ 1/24] built ...".
var bldProgressLine = regexp.MustCompile(`^\[ *1/[0-9]+\] `)

// TestBuildSIGKILL kills a hic build process with SIGKILL after its first
// progress line, then wants a valid layout and a rerun that completes.
func TestBuildSIGKILL(t *testing.T) {
	tmp := t.TempDir()
	hic := filepath.Join(tmp, "hic")
	gobuild := exec.CommandContext(t.Context(), "go", "build", "-o", hic, ".")
	if b, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	// Larger packages than the other tests, so the build is well under way
	// when the kill lands.
	mirror := filepath.Join(tmp, "mirror")
	bldMirror(t, bldCatalog, mirror, "--scale", "0.02")
	out := filepath.Join(tmp, "out")

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	key := bldKey(t)
	cmd := exec.CommandContext(ctx, hic, "-C", bldCatalog, "build", "--all", "--today", bldToday,
		"--mirrors", mirror, "--out", out, "--jobs", "2", "--key", key)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var seen []string
	progress := false
	for !progress && sc.Scan() {
		seen = append(seen, sc.Text())
		progress = bldProgressLine.MatchString(sc.Text())
	}
	if !progress {
		cmd.Wait()
		t.Fatalf("hic build printed no progress line:\n%s", strings.Join(seen, "\n"))
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hic was not killed by SIGKILL mid-build: %v\nstderr:\n%s", err, strings.Join(seen, "\n"))
	}

	oci := filepath.Join(out, "oci")
	if err := store.Validate(oci); err != nil {
		t.Fatalf("layout invalid after SIGKILL: %v", err)
	}
	stored := 0
	for ref := range bldEntries(t, oci) {
		if ref != "" {
			stored++
		}
	}
	t.Logf("killed after %q with %d of %d specs in the layout", seen[len(seen)-1], stored, bldCatalogSpecs)
	if stored >= bldCatalogSpecs {
		t.Fatalf("all %d specs were stored before the kill: the kill did not land mid-build", stored)
	}

	stale, _ := filepath.Glob(filepath.Join(out, ".hic-build-*"))
	if len(stale) == 0 {
		t.Fatal("the killed build left no scratch directory: the kill did not land mid-build")
	}
	bldBuild(t, 0, bldCatalog, "--all", "--mirrors", mirror, "--out", out, "--key", key)
	if left, _ := filepath.Glob(filepath.Join(out, ".hic-build-*")); len(left) > 0 {
		t.Errorf("the rerun left the killed build's scratch directories: %v", left)
	}
	rep := bldReport(t, out)
	var built, cached int
	for _, r := range rep {
		switch r.Status {
		case report.StatusBuilt:
			built++
		case report.StatusCached:
			cached++
		}
	}
	if built+cached != bldCatalogSpecs || cached != stored {
		t.Errorf("rerun: %d built + %d cached, want %d specs with the %d stored before the kill cached", built, cached, bldCatalogSpecs, stored)
	}
	if err := store.Validate(oci); err != nil {
		t.Fatal(err)
	}
	refs := slices.Collect(func(yield func(string) bool) {
		for r := range bldEntries(t, oci) {
			if !yield(r) {
				return
			}
		}
	})
	sort.Strings(refs)
	if len(refs) != bldCatalogSpecs {
		t.Errorf("layout holds %d specs after the rerun, want %d: %v", len(refs), bldCatalogSpecs, refs)
	}
}

// bldHicCall finds hic invocations in shell text: "hic CMD ..." or "bin/hic CMD ...".
var (
	bldHicCall = regexp.MustCompile(`(?:^|[\s(|;&"'])(?:bin/)?hic\s+([a-z].*)`)
	// bldSubst matches what the shell or the workflow substitutes: $(cmd),
	// ${{ expr }}, ${VAR} and $VAR; each stands for a word ("1").
	bldSubst = regexp.MustCompile(`\$\([^()]*\)|\$\{\{[^}]*\}\}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	bldFence = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	bldSpan  = regexp.MustCompile("`((?:bin/)?hic [^`]+)`")
)

// TestExamplesUseRealFlags keeps the examples honest: the YAML files parse,
// and every hic command in them and in the README's code names a real
// command with flags it has.
func TestExamplesUseRealFlags(t *testing.T) {
	checked := 0
	for _, name := range []string{"README.md", "github-actions.yml", "kubernetes-job.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../examples", name))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if strings.HasSuffix(name, ".md") {
			var code []string
			for _, m := range bldFence.FindAllStringSubmatch(text, -1) {
				code = append(code, m[1])
			}
			for _, m := range bldSpan.FindAllStringSubmatch(text, -1) {
				code = append(code, m[1])
			}
			text = strings.Join(code, "\n")
		} else {
			var doc map[string]any
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if doc["jobs"] == nil && doc["kind"] != "Job" {
				t.Errorf("%s is neither a workflow nor a Job", name)
			}
		}
		text = strings.ReplaceAll(text, "\\\n", " ")
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			m := bldHicCall.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			call := bldSubst.ReplaceAllString(m[1], "1")
			if i := strings.IndexAny(call, "|>;&)#`"); i >= 0 {
				call = call[:i]
			}
			var args []string
			for _, f := range strings.Fields(call) {
				args = append(args, strings.Trim(f, `"'`))
			}
			root := newRootCmd(&rootOptions{getenv: func(string) string { return "" }}, io.Discard)
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == root {
				t.Errorf("%s: hic %s: no such command (%v)", name, call, err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s: hic %s: %v", name, call, err)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("checked %d hic commands in the examples, want at least 10", checked)
	}
}

// TestBuildClosedPipe: a build whose output pipe closes (hic build | head
// -1) runs to its end and writes its report, as it would to a terminal; it
// is not killed by SIGPIPE halfway.
func TestBuildClosedPipe(t *testing.T) {
	tmp := t.TempDir()
	hic := filepath.Join(tmp, "hic")
	if b, err := exec.CommandContext(t.Context(), "go", "build", "-o", hic, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	mirror := filepath.Join(tmp, "mirror")
	bldMirror(t, bldCatalog, mirror)
	out := filepath.Join(tmp, "out")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), hic, "-C", bldCatalog, "build", "--all", "--today", bldToday,
		"--mirrors", mirror, "--out", out, "--jobs", "1", "--unsigned")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Read up to the first progress line, then close the pipe, as head
	// does: every later write of hic's finds it closed.
	sc := bufio.NewScanner(r)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if bldProgressLine.MatchString(sc.Text()) {
			break
		}
	}
	r.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("hic build died by %v once its output pipe closed, after:\n%s", ee.Sys().(syscall.WaitStatus).Signal(), strings.Join(seen, "\n"))
	}
	if err != nil {
		t.Fatalf("hic build: %v\n%s", err, strings.Join(seen, "\n"))
	}
	rep, err := report.ReadReport(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatalf("no report after the pipe closed: %v", err)
	}
	if rep.Counts.Built != bldCatalogSpecs {
		t.Errorf("report counts %+v, want all %d specs built", rep.Counts, bldCatalogSpecs)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".hic-build-*")); len(left) > 0 {
		t.Errorf("scratch directories left: %v", left)
	}
}
