package resolve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
)

const (
	repoURL = "https://apk.example.test/hic"
	keyURL  = "https://apk.example.test/keys/hic-test.rsa.pub"
)

var buildTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// testPackages is a small package universe for each arch.
func testPackages(extra ...apkrepo.Package) []apkrepo.Package {
	var pkgs []apkrepo.Package
	for _, a := range []string{"x86_64", "aarch64"} {
		pkgs = append(pkgs,
			apkrepo.Package{Name: "base-files", Version: "1.0.0-r0", Arch: a, BuildTime: buildTime.Add(-time.Hour),
				Files: []apkrepo.File{{Path: "etc/os-release", Data: []byte("ID=hic\n")}}},
			apkrepo.Package{Name: "busybox", Version: "1.36.1-r0", Arch: a, Depends: []string{"base-files"}, BuildTime: buildTime.Add(-2 * time.Hour),
				Files: []apkrepo.File{{Path: "bin/busybox", Mode: 0o755, Data: []byte("#!fake busybox " + a)}}},
			apkrepo.Package{Name: "hello", Version: "1.0.0-r0", Arch: a, Depends: []string{"base-files"}, BuildTime: buildTime.Add(-3 * time.Hour),
				Files: []apkrepo.File{{Path: "usr/bin/hello", Mode: 0o755, Data: []byte("old hello " + a)}}},
			apkrepo.Package{Name: "hello", Version: "1.1.0-r0", Arch: a, Depends: []string{"base-files", "hello-config"}, BuildTime: buildTime,
				Files: []apkrepo.File{{Path: "usr/bin/hello", Mode: 0o755, Data: []byte("hello " + a)}}},
			apkrepo.Package{Name: "hello-config", Version: "0.1-r0", Arch: a, BuildTime: buildTime.Add(-time.Minute),
				Files: []apkrepo.File{{Path: "etc/hello/config.json", Data: []byte(`{"greeting":"hi"}`)}}},
		)
	}
	return append(pkgs, extra...)
}

func writeMirror(t *testing.T, pkgs []apkrepo.Package) (string, *apkrepo.Repository) {
	t.Helper()
	key, err := apkrepo.GenerateKey("hic-test")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mirror")
	r, err := apkrepo.WriteRepository(context.Background(), dir, key, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	return dir, r
}

func testImage(pkgs ...string) compile.Image {
	return compile.Image{
		Ref:        "hello:1-test-runtime",
		Repository: "hello",
		Config: compile.Config{
			Contents: compile.Contents{
				Repositories: []string{repoURL},
				Keyring:      []string{keyURL},
				Packages:     pkgs,
			},
			Archs: []string{"arm64", "amd64"},
		},
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	dir, repo := writeMirror(t, testPackages())
	opts := Options{Mirrors: []Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()}
	lock, err := Resolve(ctx, testImage("hello", "busybox"), opts)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, p := range repo.Packages {
		sums[p.Arch+"/"+p.Name+"-"+p.Version] = p.Checksum
	}
	want := map[string][]Package{}
	for _, a := range []string{"aarch64", "x86_64"} {
		p := func(name, version string, bt time.Time) Package {
			var size uint64
			for _, b := range repo.Packages {
				if b.Arch == a && b.Name == name && b.Version == version {
					size = uint64(b.Size)
				}
			}
			return Package{Name: name, Version: version, Arch: a, Repository: repoURL,
				Checksum: sums[a+"/"+name+"-"+version], Size: size, BuildTime: bt}
		}
		want[a] = []Package{
			p("base-files", "1.0.0-r0", buildTime.Add(-time.Hour)),
			p("busybox", "1.36.1-r0", buildTime.Add(-2*time.Hour)),
			p("hello", "1.1.0-r0", buildTime),
			p("hello-config", "0.1-r0", buildTime.Add(-time.Minute)),
		}
	}
	if diff := cmp.Diff(want, lock.Archs); diff != "" {
		t.Errorf("lock (-want +got):\n%s", diff)
	}
	if got := lock.BuildDate(); !got.Equal(buildTime) {
		t.Errorf("BuildDate = %v, want %v", got, buildTime)
	}
	if got := lock.Packages(types.ParseArchitecture("amd64")); len(got) != 4 || got[0].Arch != "x86_64" {
		t.Errorf("Packages(amd64) = %v", got)
	}

	// Stable JSON, no host path, and the same lock from a mirror elsewhere.
	b1, err := lock.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b1), dir) {
		t.Errorf("lock JSON contains the mirror path %s:\n%s", dir, b1)
	}
	elsewhere := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", dir, elsewhere).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	opts.Mirrors[0].Dir = elsewhere
	lock2, err := Resolve(ctx, testImage("busybox", "hello"), opts)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := lock2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(b1), string(b2)); diff != "" {
		t.Errorf("lock from a copied mirror differs (-first +second):\n%s", diff)
	}
	parsed, err := Parse(b1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lock, parsed); diff != "" {
		t.Errorf("Parse(Marshal(lock)) (-want +got):\n%s", diff)
	}
}

func TestResolvePinned(t *testing.T) {
	dir, _ := writeMirror(t, testPackages())
	lock, err := Resolve(context.Background(), testImage("hello=1.0.0-r0"), Options{Mirrors: []Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range lock.Archs["x86_64"] {
		got = append(got, p.Name+"="+p.Version)
	}
	if diff := cmp.Diff([]string{"base-files=1.0.0-r0", "hello=1.0.0-r0"}, got); diff != "" {
		t.Errorf("pinned lock (-want +got):\n%s", diff)
	}
	if got := lock.BuildDate(); !got.Equal(buildTime.Add(-time.Hour)) {
		t.Errorf("BuildDate = %v, want the newest installed package's build time %v", got, buildTime.Add(-time.Hour))
	}
}

func TestResolveErrors(t *testing.T) {
	broken := apkrepo.Package{Name: "broken", Version: "1-r0", Arch: "x86_64", Depends: []string{"no-such-lib"}}
	brokenArm := broken
	brokenArm.Arch = "aarch64"
	dir, _ := writeMirror(t, testPackages(broken, brokenArm))
	noKeys := filepath.Join(t.TempDir(), "nokeys")
	if err := os.MkdirAll(noKeys, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		img    compile.Image
		mirror string
		want   []string
	}{
		{"missing dependency", testImage("hello", "broken"), dir,
			[]string{"hello:1-test-runtime", "resolve broken", repoURL, "no-such-lib"}},
		{"unknown package", testImage("nope"), dir,
			[]string{"hello:1-test-runtime", "resolve nope", repoURL}},
		{"mirror without the keyring's key", testImage("hello"), noKeys,
			[]string{"hello:1-test-runtime", repoURL, "hic-test.rsa.pub"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve(context.Background(), tc.img, Options{Mirrors: []Mirror{{URL: repoURL, Dir: tc.mirror}}, TempDir: t.TempDir()})
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewSources(t *testing.T) {
	dir, _ := writeMirror(t, testPackages())
	cfg := ApkoConfig(testImage("hello").Config)
	cfg.Contents.Repositories = append(cfg.Contents.Repositories, "https://other.example.test/main")
	cfg.Contents.Keyring = append(cfg.Contents.Keyring, "https://other.example.test/other.rsa.pub")
	s, err := NewSources(cfg, []Mirror{{URL: repoURL + "/", Dir: dir}, {URL: "https://unused.example.test", Dir: "/nonexistent"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{dir, "https://other.example.test/main"}, s.Repositories); diff != "" {
		t.Errorf("Repositories (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{filepath.Join(dir, "keys", "hic-test.rsa.pub"), "https://other.example.test/other.rsa.pub"}, s.Keys); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{repoURL, "https://other.example.test/main"}, s.Config.Contents.RuntimeOnlyRepositories); diff != "" {
		t.Errorf("runtime repositories (-want +got):\n%s", diff)
	}
	if len(s.Config.Contents.Repositories)+len(s.Config.Contents.Keyring) != 0 {
		t.Errorf("Config keeps build-time sources: %+v", s.Config.Contents)
	}
	if u, ok := s.URL(dir); !ok || u != repoURL {
		t.Errorf("URL(%s) = %q, %v", dir, u, ok)
	}
	if d, ok := s.MirrorDir(repoURL); !ok || d != dir {
		t.Errorf("MirrorDir = %q, %v", d, ok)
	}
	if _, err := NewSources(cfg, []Mirror{{URL: repoURL, Dir: dir}, {URL: repoURL, Dir: "/elsewhere"}}, nil); err == nil {
		t.Error("two directories for one URL: no error")
	}
	// One directory for two repositories would attribute each package to
	// one of them, whichever: refused.
	_, err = NewSources(cfg, []Mirror{{URL: repoURL, Dir: dir}, {URL: "https://other.example.test/main", Dir: dir}}, nil)
	if err == nil || !strings.Contains(err.Error(), "serves two repositories") {
		t.Errorf("one directory for two repositories: %v", err)
	}
}

// apko caches parsed local indexes per process by path and modification
// time, whatever keys they were checked with. Resolve must check the
// signature itself: an index that passed with one keyring must fail with a
// keyring that does not hold its key.
func TestResolveChecksSignatureEveryTime(t *testing.T) {
	ctx := context.Background()
	intruder, err := apkrepo.GenerateKey("intruder")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mirror")
	if _, err := apkrepo.WriteRepository(ctx, dir, intruder, testPackages()); err != nil {
		t.Fatal(err)
	}
	img := testImage("hello")
	img.Config.Contents.Keyring = []string{"https://apk.example.test/keys/intruder.rsa.pub"}
	opts := Options{Mirrors: []Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()}
	if _, err := Resolve(ctx, img, opts); err != nil {
		t.Fatalf("resolve with the signing key trusted: %v", err)
	}

	// Now trust only hic-test.rsa.pub, which the mirror also holds.
	other, _ := writeMirror(t, testPackages())
	b, err := os.ReadFile(filepath.Join(other, "keys", "hic-test.rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "hic-test.rsa.pub"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(ctx, testImage("hello"), opts)
	if err == nil {
		t.Fatal("resolve succeeded with an index signed by a key the keyring does not trust")
	}
	for _, w := range []string{"hello:1-test-runtime", repoURL, "unknown key intruder.rsa.pub"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestReadIndexBadSignature(t *testing.T) {
	dir, _ := writeMirror(t, testPackages())
	other, _ := writeMirror(t, testPackages()) // same key name, other key
	trusted := map[string]string{"hic-test.rsa.pub": filepath.Join(other, "keys", "hic-test.rsa.pub")}
	_, _, err := ReadIndex(filepath.Join(dir, "x86_64", "APKINDEX.tar.gz"), trusted)
	if err == nil || !strings.Contains(err.Error(), "bad signature by hic-test.rsa.pub") {
		t.Errorf("ReadIndex with the wrong key of the right name: %v", err)
	}
	pkgs, sum, err := ReadIndex(filepath.Join(dir, "x86_64", "APKINDEX.tar.gz"), map[string]string{"hic-test.rsa.pub": filepath.Join(dir, "keys", "hic-test.rsa.pub")})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 5 || pkgs["hello=1.1.0-r0"] == nil || sum == [32]byte{} {
		t.Errorf("ReadIndex: %d packages, sum %x", len(pkgs), sum)
	}
}

func BenchmarkResolve(b *testing.B) {
	key, err := apkrepo.GenerateKey("hic-test")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "mirror")
	if _, err := apkrepo.WriteRepository(context.Background(), dir, key, testPackages()); err != nil {
		b.Fatal(err)
	}
	opts := Options{Mirrors: []Mirror{{URL: repoURL, Dir: dir}}, CacheDir: b.TempDir(), TempDir: b.TempDir()}
	for b.Loop() {
		if _, err := Resolve(context.Background(), testImage("hello", "busybox"), opts); err != nil {
			b.Fatal(err)
		}
	}
}
