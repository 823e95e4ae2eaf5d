package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"archive/tar"

	"github.com/chainguard-dev/clog"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/resolve"
)

const (
	repoURL = "https://apk.example.test/hic"
	keyURL  = "https://apk.example.test/keys/hic-test.rsa.pub"
	ref     = "hello:1-test-runtime"
)

var buildTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// testCtx returns a context whose logger (apko's too) writes warnings and
// errors to the test log.
func testCtx(t testing.TB) context.Context {
	return clog.WithLogger(t.Context(), clog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func testPackages() []apkrepo.Package {
	var pkgs []apkrepo.Package
	for _, a := range []string{"x86_64", "aarch64"} {
		pkgs = append(pkgs,
			apkrepo.Package{Name: "base-files", Version: "1.0.0-r0", Arch: a, BuildTime: buildTime.Add(-time.Hour), License: "MIT",
				Files: []apkrepo.File{
					{Path: "etc/os-release", Data: []byte("ID=hic\nNAME=\"hic test\"\nVERSION_ID=1\n")},
					{Path: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\n")},
					{Path: "etc/group", Data: []byte("root:x:0:\n")},
				}},
			apkrepo.Package{Name: "busybox", Version: "1.36.1-r0", Arch: a, Depends: []string{"base-files"}, BuildTime: buildTime.Add(-2 * time.Hour), License: "GPL-2.0-only",
				Files: []apkrepo.File{
					{Path: "bin/busybox", Mode: 0o755, Data: []byte("#!fake busybox " + a)},
					{Path: "bin/sh", Kind: apkrepo.KindSymlink, Target: "/bin/busybox"},
				}},
			apkrepo.Package{Name: "hello", Version: "1.1.0-r0", Arch: a, Depends: []string{"base-files", "hello-config"}, BuildTime: buildTime, License: "Apache-2.0",
				Files: []apkrepo.File{{Path: "usr/bin/hello", Mode: 0o755, Size: 64 << 10, Seed: 7}}},
			apkrepo.Package{Name: "hello-config", Version: "0.1-r0", Arch: a, BuildTime: buildTime.Add(-time.Minute), License: "Apache-2.0",
				Files: []apkrepo.File{{Path: "etc/hello/config.json", Data: []byte(`{"greeting":"hi"}`)}}},
		)
	}
	return pkgs
}

func writeMirror(t testing.TB, key *apkrepo.Key, pkgs []apkrepo.Package) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mirror")
	if _, err := apkrepo.WriteRepository(testCtx(t), dir, key, pkgs); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newKey(t testing.TB, name string) *apkrepo.Key {
	t.Helper()
	k, err := apkrepo.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testImage() compile.Image {
	gid := uint32(65532)
	return compile.Image{
		Ref:        ref,
		Repository: "hello",
		Tags:       []string{"1", "1-test-runtime"},
		Config: compile.Config{
			Contents: compile.Contents{
				Repositories: []string{repoURL},
				Keyring:      []string{keyURL},
				Packages:     []string{"hello", "busybox"},
			},
			Entrypoint: compile.Entrypoint{Command: "/usr/bin/hello"},
			Accounts: compile.Accounts{
				RunAs:  "65532",
				Users:  []compile.User{{UserName: "nonroot", UID: 65532, GID: &gid, HomeDir: "/home/nonroot"}},
				Groups: []compile.Group{{GroupName: "nonroot", GID: 65532}},
			},
			Archs:       []string{"amd64", "arm64"},
			Annotations: map[string]string{"org.opencontainers.image.title": "hello"},
		},
	}
}

// setup writes a mirror, locks testImage against it and returns both.
func setup(t testing.TB) (string, *resolve.Lock, *apkrepo.Key) {
	t.Helper()
	key := newKey(t, "hic-test")
	dir := writeMirror(t, key, testPackages())
	lock, err := resolve.Resolve(testCtx(t), testImage(), resolve.Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return dir, lock, key
}

func copyDir(t testing.TB, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return to
}

func digest(t testing.TB, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBuildReproducibleAndPathIndependent(t *testing.T) {
	ctx := testCtx(t)
	dirA, lock, _ := setup(t)
	dirB := copyDir(t, dirA)

	var results []*Result
	for _, dir := range []string{dirA, dirB} {
		tmp := t.TempDir()
		r, err := Build(ctx, testImage(), lock, Options{
			Mirrors:  []resolve.Mirror{{URL: repoURL, Dir: dir}},
			CacheDir: t.TempDir(),
			TempDir:  tmp,
		})
		if err != nil {
			t.Fatal(err)
		}
		if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
			t.Errorf("temporary directory not cleaned up: %v %v", ents, err)
		}
		results = append(results, r)
	}
	a, b := results[0], results[1]
	if da, db := digest(t, a.Index), digest(t, b.Index); da != db {
		t.Fatalf("index digest differs between mirror paths: %s vs %s", da, db)
	}
	if diff := cmp.Diff(a.SBOMs, b.SBOMs); diff != "" {
		t.Errorf("SBOMs differ between builds (-first +second):\n%s", diff)
	}

	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, a.Platforms()); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if !a.BuildDate.Equal(buildTime) {
		t.Errorf("BuildDate = %v, want the newest package build time %v", a.BuildDate, buildTime)
	}
	im, err := a.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want 2", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		img, err := a.Index.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !cf.Created.Time.Equal(buildTime) {
			t.Errorf("%s created %v, want %v", d.Platform, cf.Created.Time, buildTime)
		}
		if got := cf.Config.User; got != "65532" {
			t.Errorf("%s user %q", d.Platform, got)
		}
	}
	for p, want := range map[string]string{"linux/amd64": "x86_64", "linux/arm64": "aarch64"} {
		if diff := cmp.Diff(lock.Archs[want], a.Installed[p]); diff != "" {
			t.Errorf("%s installed (-lock +got):\n%s", p, diff)
		}
	}
	namespaces := map[string]string{}
	for _, k := range []string{"linux/amd64", "linux/arm64", IndexSBOM} {
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Namespace   string `json:"documentNamespace"`
			Packages    []struct {
				Name         string `json:"name"`
				ExternalRefs []struct {
					Type    string `json:"referenceType"`
					Locator string `json:"referenceLocator"`
				} `json:"externalRefs"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(a.SBOMs[k], &doc); err != nil || !strings.HasPrefix(doc.SPDXVersion, "SPDX-") {
			t.Errorf("SBOM %s: %v, version %q", k, err, doc.SPDXVersion)
		}
		if k != IndexSBOM && !strings.Contains(string(a.SBOMs[k]), `"hello-config"`) {
			t.Errorf("SBOM %s does not list hello-config", k)
		}
		// SPDX wants a namespace unique to each document; apko writes one
		// constant.
		if !strings.HasPrefix(doc.Namespace, namespaceBase) {
			t.Errorf("SBOM %s: documentNamespace %q, want one under %s", k, doc.Namespace, namespaceBase)
		}
		if other, ok := namespaces[doc.Namespace]; ok {
			t.Errorf("SBOMs %s and %s share documentNamespace %q", other, k, doc.Namespace)
		}
		namespaces[doc.Namespace] = k
		// Every apk purl names the distribution (syft and grype read it).
		apks := 0
		for _, p := range doc.Packages {
			for _, r := range p.ExternalRefs {
				if r.Type == "purl" && strings.HasPrefix(r.Locator, "pkg:apk/") {
					apks++
					ns, _, _ := strings.Cut(strings.TrimPrefix(r.Locator, "pkg:apk/"), "/")
					if !strings.Contains(r.Locator, "distro="+ns+"-") {
						t.Errorf("SBOM %s: purl %s has no distro qualifier", k, r.Locator)
					}
				}
			}
		}
		if k != IndexSBOM && apks == 0 {
			t.Errorf("SBOM %s has no apk purls", k)
		}
	}

	// No host path in the image; the catalog URL is the runtime repository.
	fsys, err := a.Filesystem("linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	repos, err := fs.ReadFile(fsys, "etc/apk/repositories")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(repos)); got != repoURL {
		t.Errorf("/etc/apk/repositories = %q, want %q", got, repoURL)
	}
	if _, err := fs.Stat(fsys, "etc/apk/keys/hic-test.rsa.pub"); err != nil {
		t.Errorf("key not installed: %v", err)
	}
	apkoJSON, err := fs.ReadFile(fsys, "etc/apko.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"etc/apk/repositories", "etc/apko.json", "lib/apk/db/installed", "usr/lib/apk/db/installed"} {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			continue
		}
		for _, host := range []string{dirA, dirB, os.TempDir()} {
			if strings.Contains(string(b), host) {
				t.Errorf("/%s contains host path %s:\n%s", f, host, b)
			}
		}
	}
	if !strings.Contains(string(apkoJSON), repoURL) {
		t.Errorf("/etc/apko.json does not name %s:\n%s", repoURL, apkoJSON)
	}
}

func TestFilesystem(t *testing.T) {
	dir, lock, _ := setup(t)
	r, err := Build(testCtx(t), testImage(), lock, Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := r.Filesystem("linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "bin/sh") // absolute link /bin/busybox, resolved in the root
	if err != nil || string(b) != "#!fake busybox aarch64" {
		t.Errorf("bin/sh via symlink: %q, %v", b, err)
	}
	if target, err := fs.ReadLink(fsys, "bin/sh"); err != nil || target != "../bin/busybox" {
		t.Errorf("ReadLink(bin/sh) = %q, %v", target, err)
	}
	li, err := fs.Lstat(fsys, "bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if h := li.Sys().(*tar.Header); li.Mode().Type() != fs.ModeSymlink || h.Linkname != "/bin/busybox" {
		t.Errorf("bin/sh: mode %v, link %q", li.Mode(), h.Linkname)
	}
	fi, err := fs.Stat(fsys, "usr/bin/hello")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 || fi.Size() != 64<<10 || fi.Sys().(*tar.Header).Uid != 0 {
		t.Errorf("usr/bin/hello: mode %v size %d", fi.Mode(), fi.Size())
	}
	passwd, err := fs.ReadFile(fsys, "etc/passwd")
	if err != nil || !strings.Contains(string(passwd), "nonroot:x:65532:65532") {
		t.Errorf("etc/passwd = %q, %v", passwd, err)
	}
	if _, err := r.Filesystem("linux/s390x"); err == nil || !strings.Contains(err.Error(), ref) {
		t.Errorf("unknown platform: %v", err)
	}
}

func TestBuildIntegrity(t *testing.T) {
	dir, lock, key := setup(t)
	trusted := filepath.Join(dir, "keys", "hic-test.rsa.pub")
	apkFile := func(d, name, version string) string { return filepath.Join(d, "x86_64", name+"-"+version+".apk") }
	// signedBy is a mirror signed by a new key of that name that still holds
	// the trusted key file.
	signedBy := func(keyName string) func(t *testing.T) string {
		return func(t *testing.T) string {
			d := writeMirror(t, newKey(t, keyName), testPackages())
			b, err := os.ReadFile(trusted)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "keys", "hic-test.rsa.pub"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}
	}

	for _, tc := range []struct {
		name   string
		mirror func(t *testing.T) string
		want   []string
	}{
		{"package swapped after the index was signed", func(t *testing.T) string {
			d := copyDir(t, dir)
			p := apkrepo.Package{Name: "hello-config", Version: "0.1-r0", Arch: "x86_64", BuildTime: buildTime.Add(-time.Minute), License: "Apache-2.0",
				Files: []apkrepo.File{{Path: "etc/hello/config.json", Data: []byte(`{"greeting":"pwned"}`)}}}
			b, err := apkrepo.BuildAPK(p, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(apkFile(d, "hello-config", "0.1-r0"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}, []string{ref, "hello-config-0.1-r0", repoURL, "replaced after the index was signed"}},

		{"truncated package", func(t *testing.T) string {
			d := copyDir(t, dir)
			f := apkFile(d, "hello", "1.1.0-r0")
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(f, st.Size()-512); err != nil {
				t.Fatal(err)
			}
			return d
		}, []string{ref, "hello-1.1.0-r0", repoURL}},

		{"index signed by an unknown key", signedBy("intruder"), []string{ref, "unknown key intruder.rsa.pub", "hic-test.rsa.pub"}},

		{"index signed by another key of the trusted name", signedBy("hic-test"), []string{ref, "bad signature by hic-test.rsa.pub"}},

		{"missing dependency file", func(t *testing.T) string {
			d := copyDir(t, dir)
			if err := os.Remove(apkFile(d, "base-files", "1.0.0-r0")); err != nil {
				t.Fatal(err)
			}
			return d
		}, []string{ref, "base-files-1.0.0-r0", repoURL, "no such file"}},

		{"locked package no longer in the index", func(t *testing.T) string {
			var pkgs []apkrepo.Package
			for _, p := range testPackages() {
				if p.Name != "hello-config" {
					pkgs = append(pkgs, p)
				}
			}
			d := writeMirror(t, key, pkgs)
			return d
		}, []string{ref, "hello-config-0.1-r0", repoURL, "no longer lists it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(testCtx(t), testImage(), lock, Options{
				Mirrors: []resolve.Mirror{{URL: repoURL, Dir: tc.mirror(t)}},
				TempDir: t.TempDir(),
			})
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestBuildConcurrent(t *testing.T) {
	dir, lock, _ := setup(t)
	cache := t.TempDir()
	const n = 4
	digests := make([]v1.Hash, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			r, err := Build(testCtx(t), testImage(), lock, Options{
				Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, CacheDir: cache, TempDir: t.TempDir()})
			if err != nil {
				errs[i] = err
				return
			}
			digests[i], errs[i] = r.Index.Digest()
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if digests[i] != digests[0] {
			t.Errorf("build %d: digest %s, build 0: %s", i, digests[i], digests[0])
		}
	}
}

func TestBuildRefusesSourceDateEpoch(t *testing.T) {
	dir, lock, _ := setup(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	_, err := Build(testCtx(t), testImage(), lock, Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") || !strings.Contains(err.Error(), ref) {
		t.Fatalf("Build with SOURCE_DATE_EPOCH set: %v, want an error naming it", err)
	}
}

func TestBuildLockMismatch(t *testing.T) {
	dir, lock, _ := setup(t)
	other := *lock
	other.Ref = "other:1"
	if _, err := Build(testCtx(t), testImage(), &other, Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()}); err == nil {
		t.Error("Build with another spec's lock succeeded")
	}
}

// BenchmarkBuild measures one 2-arch build of testImage. "cold" gives every
// build an empty cache directory (in one process apko's process-wide caches
// still help after the first build: run with -benchtime=1x for a truly cold
// build); "warm" shares one cache directory.
func BenchmarkBuild(b *testing.B) {
	dir, lock, _ := setup(b)
	img := testImage()
	run := func(b *testing.B, cache func() string) {
		for b.Loop() {
			if _, err := Build(testCtx(b), img, lock, Options{
				Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, CacheDir: cache(), TempDir: b.TempDir()}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cold", func(b *testing.B) { run(b, b.TempDir) })
	warm := b.TempDir()
	b.Run("warm", func(b *testing.B) { run(b, func() string { return warm }) })
	img.Config.Layering = &compile.Layering{} // apko's single layer
	b.Run("warm-single-layer", func(b *testing.B) { run(b, func() string { return warm }) })
}

func TestDefaultLayeringSharesPackageLayers(t *testing.T) {
	dir, _, _ := setup(t)
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	layers := map[string]map[v1.Hash]bool{}
	for _, pkgs := range [][]string{{"hello", "busybox"}, {"busybox"}} {
		img := testImage()
		img.Config.Contents.Packages = pkgs
		lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Mirrors: mirrors, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Build(testCtx(t), img, lock, Options{Mirrors: mirrors, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.Images["linux/amd64"].Manifest()
		if err != nil {
			t.Fatal(err)
		}
		key := strings.Join(pkgs, "+")
		layers[key] = map[v1.Hash]bool{}
		for _, l := range m.Layers {
			layers[key][l.Digest] = true
		}
		if len(m.Layers) < len(lock.Archs["x86_64"])+1 {
			t.Errorf("%s: %d layers for %d packages, want one per origin plus apko's", key, len(m.Layers), len(lock.Archs["x86_64"]))
		}
		fsys, err := r.Filesystem("linux/amd64")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Stat(fsys, "bin/busybox"); err != nil {
			t.Errorf("%s: flattened filesystem: %v", key, err)
		}
	}
	shared := 0
	for h := range layers["busybox"] {
		if layers["hello+busybox"][h] {
			shared++
		}
	}
	if shared == 0 {
		t.Errorf("no layer shared between an image with busybox and one with hello and busybox: %v", layers)
	}
}

// dirTransport serves the catalog URLs of the test repository and its key
// from a directory, standing in for the real repository.
type dirTransport struct{ dir string }

func (d dirTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var file string
	switch u := r.URL.String(); {
	case strings.HasPrefix(u, repoURL+"/"):
		file = filepath.Join(d.dir, filepath.FromSlash(strings.TrimPrefix(u, repoURL+"/")))
	case u == keyURL:
		file = filepath.Join(d.dir, "keys", "hic-test.rsa.pub")
	}
	resp := &http.Response{Request: r, Header: http.Header{}, Body: http.NoBody, StatusCode: http.StatusNotFound, Status: "404 Not Found"}
	b, err := os.ReadFile(file)
	if file == "" || err != nil {
		return resp, nil
	}
	resp.StatusCode, resp.Status, resp.ContentLength = http.StatusOK, "200 OK", int64(len(b))
	if r.Method != http.MethodHead {
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}

// A build from a mirror gives the same lock and the same image as a build
// from the catalog's repository itself.
func TestMirrorEqualsCatalogRepository(t *testing.T) {
	dir, mirrorLock, _ := setup(t)
	remote := dirTransport{dir: copyDir(t, dir)}
	remoteLock, err := resolve.Resolve(testCtx(t), testImage(), resolve.Options{Transport: remote, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mirrorLock, remoteLock); diff != "" {
		t.Errorf("lock from the repository (-mirror +repository):\n%s", diff)
	}
	fromRemote, err := Build(testCtx(t), testImage(), remoteLock, Options{Transport: remote, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	fromMirror, err := Build(testCtx(t), testImage(), mirrorLock, Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r, m := digest(t, fromRemote.Index), digest(t, fromMirror.Index); r != m {
		t.Errorf("index digest from the repository %s, from the mirror %s", r, m)
	}
}

// apko caches indexes and expanded packages per process by path. A package
// rebuilt under the same name and version in the same mirror directory must
// be installed with its new content, not from those caches.
func TestRebuiltPackageInSameProcess(t *testing.T) {
	key := newKey(t, "hic-test")
	dir := writeMirror(t, key, testPackages())
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	cache := t.TempDir()
	build := func() (*Result, error) {
		lock, err := resolve.Resolve(testCtx(t), testImage(), resolve.Options{Mirrors: mirrors, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return Build(testCtx(t), testImage(), lock, Options{Mirrors: mirrors, CacheDir: cache, TempDir: t.TempDir()})
	}
	if _, err := build(); err != nil {
		t.Fatal(err)
	}
	pkgs := testPackages()
	for i := range pkgs {
		if pkgs[i].Name == "hello-config" {
			pkgs[i].Files[0].Data = []byte(`{"greeting":"new"}`)
		}
	}
	if _, err := apkrepo.WriteRepository(testCtx(t), dir, key, pkgs); err != nil {
		t.Fatal(err)
	}
	// The rewritten indexes are newer than the first ones, whatever the file
	// system's timestamp resolution.
	newer := time.Now().Add(time.Minute)
	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "APKINDEX.tar.gz" {
			err = os.Chtimes(path, newer, newer)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r, err := build()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Platforms() {
		fsys, err := r.Filesystem(p)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := fs.ReadFile(fsys, "etc/hello/config.json"); err != nil || string(b) != `{"greeting":"new"}` {
			t.Errorf("%s: installed the stale package: config.json = %q, %v", p, b, err)
		}
	}
}

// Packages downloaded from a repository without a mirror are checked
// against the lock as they arrive.
func TestBuildVerifiesDownloadedPackages(t *testing.T) {
	dir, _, key := setup(t)
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, d string)
		want   []string
	}{
		{"package swapped after the index was signed", func(t *testing.T, d string) {
			p := apkrepo.Package{Name: "hello-config", Version: "0.1-r0", Arch: "aarch64", BuildTime: buildTime.Add(-time.Minute), License: "Apache-2.0",
				Files: []apkrepo.File{{Path: "etc/hello/config.json", Data: []byte(`{"greeting":"pwned"}`)}}}
			b, err := apkrepo.BuildAPK(p, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "aarch64", "hello-config-0.1-r0.apk"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{ref, "hello-config-0.1-r0 (aarch64)", "replaced after the index was signed"}},
		{"truncated package", func(t *testing.T, d string) {
			f := filepath.Join(d, "x86_64", "hello-1.1.0-r0.apk")
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(f, st.Size()-512); err != nil {
				t.Fatal(err)
			}
		}, []string{ref, "hello-1.1.0-r0 (x86_64)", repoURL + "-truncated-package-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			tc.tamper(t, d)
			// A repository URL of its own: apko keeps the outcome of every
			// package fetch, failures included, by URL for the whole
			// process, so a case sharing URLs with another would see that
			// case's failure (or, under -count, its own earlier one).
			own := fmt.Sprintf("%s-%s-%d", repoURL, strings.ReplaceAll(tc.name, " ", "-"), time.Now().UnixNano())
			img := testImage()
			img.Config.Contents.Repositories = []string{own}
			remote := renameTransport{map[string]string{own: repoURL}, dirTransport{dir: d}}
			lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Transport: renameTransport{map[string]string{own: repoURL}, dirTransport{dir: dir}}, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(testCtx(t), img, lock, Options{Transport: remote, TempDir: t.TempDir()})
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
