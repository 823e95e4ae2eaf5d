package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/testenv"
)

// countTransport counts the .apk files fetched through it.
type countTransport struct {
	n    *atomic.Int32
	next http.RoundTripper
}

func (c countTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, ".apk") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

// TestPackageFileDigests: Result.Files gives, for every installed package,
// the SHA-256 of the .apk file it came from, which is the digest of the
// file (not the APK checksum, which covers the control segment only). The
// packages are real ones this project did not write (apko's module test
// data, realPackages), hashed here independently of the build. Built from
// a mirror, from the repository (the files fetched), and from the
// repository again with apko's package cache holding them (nothing
// fetched: the digest comes from the cache entry), each gives the same
// digests, with the URL fetched only for the repository builds.
func TestPackageFileDigests(t *testing.T) {
	module := testenv.ApkoModule(t)
	want := map[string]string{} // arch/name -> digest
	for arch, files := range realPackages {
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(module, f))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			name := strings.TrimSuffix(filepath.Base(f), ".apk")
			// name-version-rN: the version is the last two fields.
			parts := strings.Split(name, "-")
			want[arch+"/"+strings.Join(parts[:len(parts)-2], "-")] = "sha256:" + hex.EncodeToString(sum[:])
		}
	}
	key := newKey(t, "hic-test")
	dir := writeRealMirror(t, key, module)
	img := realImage([]string{"amd64", "arm64"}, []string{"replayout", "package-y", "hello"}, 3)
	img.Config.Paths = nil

	check := func(t *testing.T, r *Result, mirror bool, repo string) {
		t.Helper()
		n := 0
		for _, platform := range r.Platforms() {
			arch := map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[platform]
			if len(r.Files[platform]) != len(r.Installed[platform]) {
				t.Errorf("%s: %d files for %d installed packages", platform, len(r.Files[platform]), len(r.Installed[platform]))
			}
			for _, p := range r.Installed[platform] {
				f, ok := r.Files[platform][p.Name]
				if !ok {
					t.Errorf("%s: no file for %s", platform, p)
					continue
				}
				n++
				if w := want[arch+"/"+p.Name]; f.Digest != w {
					t.Errorf("%s %s: digest %q, the file hashes to %q", platform, p, f.Digest, w)
				}
				if f.Mirror != mirror {
					t.Errorf("%s %s: Mirror %v, want %v", platform, p, f.Mirror, mirror)
				}
				wantURL := ""
				if !mirror {
					wantURL = repo + "/" + arch + "/" + p.Name + "-" + p.Version + ".apk"
				}
				if f.URL != wantURL {
					t.Errorf("%s %s: URL %q, want %q", platform, p, f.URL, wantURL)
				}
			}
		}
		if n == 0 {
			t.Error("no package checked")
		}
	}

	t.Run("mirror", func(t *testing.T) {
		mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
		lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Mirrors: mirrors, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Build(testCtx(t), img, lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), Checked: NewPackageChecks()})
		if err != nil {
			t.Fatal(err)
		}
		check(t, r, true, repoURL)
	})

	t.Run("repository", func(t *testing.T) {
		// A repository URL of its own: apko keeps fetches by URL for the
		// whole process.
		const ownURL, ownKey = "https://apk.example.test/file-digests", "https://keys.example.test/hic-test.rsa.pub"
		var fetched atomic.Int32
		remote := countTransport{&fetched, renameTransport{map[string]string{ownURL: repoURL, ownKey: keyURL}, dirTransport{dir: dir}}}
		img := img
		img.Config.Contents.Repositories = []string{ownURL}
		img.Config.Contents.Keyring = []string{ownKey}
		lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Transport: remote, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		cache := t.TempDir()
		for _, run := range []string{"fetched", "from the package cache"} {
			fetched.Store(0)
			r, err := Build(testCtx(t), img, lock, Options{Transport: remote, CacheDir: cache, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d .apk files fetched", run, fetched.Load())
			if run == "fetched" && fetched.Load() == 0 {
				t.Fatal("nothing fetched")
			}
			if run != "fetched" && fetched.Load() != 0 {
				t.Fatalf("%d packages fetched again, want none (all in the package cache)", fetched.Load())
			}
			check(t, r, false, ownURL)
		}
	})
}

// TestSBOMNamesApkoVersion: the SPDX documents' apko creator is the apko
// version linked in, the one the provenance names, not apko's default (the
// binary's main module version, "(devel)" from a checkout).
func TestSBOMNamesApkoVersion(t *testing.T) {
	key := newKey(t, "hic-test")
	dir := writeRealMirror(t, key, testenv.ApkoModule(t))
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	img := realImage([]string{"amd64", "arm64"}, []string{"replayout", "hello"}, 3)
	img.Config.Paths = nil
	lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Mirrors: mirrors, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(testCtx(t), img, lock, Options{Mirrors: mirrors, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := "Tool: apko (" + ApkoVersion() + ")"
	t.Logf("apko creator: %s", want)
	if len(r.SBOMs) != 3 {
		t.Fatalf("%d SBOMs, want 3", len(r.SBOMs))
	}
	for name, b := range r.SBOMs {
		var doc struct {
			CreationInfo struct{ Creators []string } `json:"creationInfo"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var tools []string
		for _, c := range doc.CreationInfo.Creators {
			if strings.HasPrefix(c, "Tool: apko") {
				tools = append(tools, c)
			}
		}
		if len(tools) != 1 || tools[0] != want {
			t.Errorf("%s SBOM: apko creators %q, want [%q]", name, tools, want)
		}
	}
}
