package build

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chainguard-dev/clog"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/resolve"
)

// TestEditedPackageCacheIsRefetched: a build from the catalog's repository
// (no mirror) leaves the packages in apko's cache under CacheDir. A cache
// entry edited between builds (control segment, data segment, or the
// uncompressed data apko lays out) is detected against the lock, named in
// the log, removed and fetched again: the image is the first build's.
func TestEditedPackageCacheIsRefetched(t *testing.T) {
	dir, _, _ := setup(t)
	// A repository URL of its own: apko caches indexes and keys by URL for
	// the whole process, and other tests serve other contents at repoURL.
	const ownURL, ownKey = "https://apk.example.test/cache-check", "https://keys.example.test/hic-test.rsa.pub"
	remote := renameTransport{map[string]string{ownURL: repoURL, ownKey: keyURL}, dirTransport{dir: copyDir(t, dir)}}
	img := testImage()
	img.Config.Contents.Repositories = []string{ownURL}
	img.Config.Contents.Keyring = []string{ownKey}
	lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Transport: remote, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	first, err := Build(testCtx(t), img, lock, Options{Transport: remote, CacheDir: cache, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(cache, "https%3A%2F%2Fapk.example.test%2Fcache-check", "x86_64", "hello-1.1.0-r0")
	for _, suffix := range []string{".ctl.tar.gz", ".dat.tar.gz", ".dat.tar"} {
		t.Run(suffix, func(t *testing.T) {
			matches, _ := filepath.Glob(filepath.Join(entry, "*"+suffix))
			if len(matches) != 1 {
				t.Fatalf("apko's cache entry %s has %d files *%s, want 1", entry, len(matches), suffix)
			}
			b, err := os.ReadFile(matches[0])
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(matches[0], b, 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			ctx := clog.WithLogger(t.Context(), clog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
			again, err := Build(ctx, img, lock, Options{Transport: remote, CacheDir: cache, TempDir: t.TempDir()})
			if err != nil {
				t.Fatalf("build after the edit: %v", err)
			}
			if a, b := digest(t, first.Index), digest(t, again.Index); a != b {
				t.Errorf("the edited cache changed the image: %s, then %s", a, b)
			}
			if !strings.Contains(logs.String(), "package cache entry altered") || !strings.Contains(logs.String(), "hello-1.1.0-r0") {
				t.Errorf("the edit is not named in the log:\n%s", logs.String())
			}
			if got, err := os.ReadFile(matches[0]); err != nil || bytes.Equal(got, b) {
				t.Errorf("the edited file is still in the cache (%v)", err)
			}
		})
	}
}

// renameTransport serves URLs under the keys of from as the URLs they map to.
type renameTransport struct {
	from map[string]string
	next http.RoundTripper
}

func (r renameTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL.String()
	for from, to := range r.from {
		if strings.HasPrefix(u, from) {
			nu, err := url.Parse(to + strings.TrimPrefix(u, from))
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.URL = nu
			break
		}
	}
	return r.next.RoundTrip(req)
}

// TestMirroredPackageCacheChecks: the entries apko's package cache holds
// for a mirror's packages are checked before apko reads them, once per
// process; an EntryMemo under the layout memo's key spares a later
// process the entries it checked or made, until one of their files
// changes.
func TestMirroredPackageCacheChecks(t *testing.T) {
	dir, lock, _ := setup(t)
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	cache := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	memoPath := filepath.Join(cache, "checked-entries")
	// build is one process's build: its own checks and the memo read anew.
	build := func(t *testing.T, key []byte) (checked []string, logs string) {
		t.Helper()
		c := NewPackageChecks()
		m := OpenEntryMemo(memoPath, key)
		c.RememberEntries(m)
		c.onCheck = func(dir string) { checked = append(checked, dir) }
		var buf bytes.Buffer
		ctx := clog.WithLogger(t.Context(), clog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if _, err := Build(ctx, testImage(), lock, Options{Mirrors: mirrors, CacheDir: cache, TempDir: t.TempDir(), Checked: c}); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(); err != nil {
			t.Fatal(err)
		}
		return checked, buf.String()
	}
	if got, _ := build(t, key); len(got) != 0 {
		t.Fatalf("a cold build checked %d entries, want none (hic makes them as it verifies the files)", len(got))
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "file*", "*", "*"))
	if len(entries) == 0 {
		t.Fatal("the cold build left no package cache entries")
	}
	if got, _ := build(t, key); len(got) != 0 {
		t.Errorf("entries the memo holds, unchanged, were checked again: %v", got)
	}
	// One byte of one expanded tar edited, its modification time kept.
	tars, _ := filepath.Glob(filepath.Join(cache, "file*", "x86_64", "hello-1.1.0-r0", "*.dat.tar"))
	if len(tars) != 1 {
		t.Fatalf("%d expanded tars of hello, want 1", len(tars))
	}
	fi, err := os.Stat(tars[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tars[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(tars[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tars[0], fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	got, logs := build(t, key)
	if len(got) != 1 || !strings.Contains(got[0], "hello-1.1.0-r0") {
		t.Errorf("after the edit, checked %v; want hello's entry alone", got)
	}
	if !strings.Contains(logs, "package cache entry altered") || !strings.Contains(logs, "is not the decompressed data segment") {
		t.Errorf("the edit is not named in the log:\n%s", logs)
	}
	// A memo written under another key (forged, or another user's).
	if got, _ := build(t, bytes.Repeat([]byte{8}, 32)); len(got) != len(entries) {
		t.Errorf("under another key the memo was trusted: %d entries checked, want %d", len(got), len(entries))
	}
}

// TestEntriesAdoptedFromEarlierMirrorState: a package added to a mirror
// makes it a new path for apko; the entries it expanded from the mirror's
// earlier state are copied to the new path by hard links and checked, not
// expanded again.
func TestEntriesAdoptedFromEarlierMirrorState(t *testing.T) {
	key := newKey(t, "hic-test")
	dir := writeMirror(t, key, testPackages())
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	lock, err := resolve.Resolve(testCtx(t), testImage(), resolve.Options{Mirrors: mirrors, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	build := func() (v1.Hash, []string) {
		t.Helper()
		var checked []string
		c := NewPackageChecks()
		c.onCheck = func(dir string) { checked = append(checked, dir) }
		r, err := Build(testCtx(t), testImage(), lock, Options{Mirrors: mirrors, CacheDir: cache, TempDir: t.TempDir(), Checked: c})
		if err != nil {
			t.Fatal(err)
		}
		return digest(t, r.Index), checked
	}
	expanded := func() []string {
		t.Helper()
		tars, _ := filepath.Glob(filepath.Join(cache, "file*", "x86_64", "hello-1.1.0-r0", "*.dat.tar"))
		return tars
	}
	first, _ := build()
	tars := expanded()
	if len(tars) != 1 {
		t.Fatalf("%d expanded tars of hello after the first build, want 1", len(tars))
	}
	fi1, err := os.Stat(tars[0])
	if err != nil {
		t.Fatal(err)
	}

	extra := apkrepo.Package{Name: "extra", Version: "1.0.0-r0", Arch: "x86_64", BuildTime: buildTime, License: "MIT",
		Files: []apkrepo.File{{Path: "usr/share/extra", Data: []byte("another package\n")}}}
	if _, err := apkrepo.WriteRepository(testCtx(t), dir, key, append(testPackages(), extra)); err != nil {
		t.Fatal(err)
	}
	again, checked := build()
	tars = expanded()
	if len(tars) != 2 {
		t.Fatalf("%d expanded tars of hello after the second build, want 2 (one per mirror state): %v", len(tars), tars)
	}
	for _, p := range tars {
		if fi, err := os.Stat(p); err != nil || !os.SameFile(fi1, fi) {
			t.Errorf("%s is not a link of the first expansion: hello was expanded again (%v)", p, err)
		}
	}
	if !slices.ContainsFunc(checked, func(d string) bool { return strings.HasSuffix(d, "/x86_64/hello-1.1.0-r0") }) {
		t.Errorf("the moved entry was not checked: %v", checked)
	}
	if first != again {
		t.Errorf("the image changed: %s, then %s", first, again)
	}
}

// TestApkoReadsTheEntryHicMade: in a cold build the mirror's packages are
// expanded into apko's package cache as hic verifies their files, and apko
// takes those entries as they are (it does not expand the packages again,
// which would replace the files); the image is the one a build without
// them makes.
func TestApkoReadsTheEntryHicMade(t *testing.T) {
	dir, lock, _ := setup(t)
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	build := func(cache string, c *PackageChecks) v1.Hash {
		t.Helper()
		r, err := Build(testCtx(t), testImage(), lock, Options{Mirrors: mirrors, CacheDir: cache, TempDir: t.TempDir(), Checked: c})
		if err != nil {
			t.Fatal(err)
		}
		return digest(t, r.Index)
	}
	made := map[string]os.FileInfo{}
	var mu sync.Mutex // onMade runs in the concurrent package checks
	c := NewPackageChecks()
	c.onMade = func(dir string) {
		mu.Lock()
		defer mu.Unlock()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Error(err)
		}
		for _, e := range ents {
			if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
				made[filepath.Join(dir, e.Name())] = fi
			}
		}
	}
	cache := t.TempDir()
	got := build(cache, c)
	if len(made) == 0 {
		t.Fatal("hic made no package cache entry in a cold build")
	}
	for p, fi := range made {
		if now, err := os.Stat(p); err != nil || !os.SameFile(fi, now) || now.ModTime() != fi.ModTime() {
			t.Errorf("%s was replaced after hic made it: apko expanded the package again (%v)", p, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(cache, "file*", "*", "*", "*"))
	for _, f := range files {
		if made[f] == nil {
			t.Errorf("%s: apko wrote it beside hic's entry, which it did not take", f)
		}
	}
	// The same build with entries made by apko alone (no PackageChecks:
	// nothing is made while verifying).
	if want := build(t.TempDir(), nil); got != want {
		t.Errorf("image %s with hic's entries, %s with apko's", got, want)
	}
}

// TestEntryOfAnotherSignatureNotAdopted: the same package (the same
// control segment) in two mirrors signed by different keys is two package
// files, and apko records a package's size, signature included, in the
// image: an image built with the other mirror's entry in the cache is the
// one built without it.
func TestEntryOfAnotherSignatureNotAdopted(t *testing.T) {
	// The key names differ in length, so the signature segments differ in
	// size too.
	imageOf := func(keyName string) compile.Image {
		img := testImage()
		img.Config.Contents.Keyring = []string{strings.TrimSuffix(keyURL, "hic-test.rsa.pub") + keyName + ".rsa.pub"}
		return img
	}
	mirrorOf := func(keyName string) (string, *resolve.Lock) {
		t.Helper()
		dir := writeMirror(t, newKey(t, keyName), testPackages())
		lock, err := resolve.Resolve(testCtx(t), imageOf(keyName), resolve.Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return dir, lock
	}
	a, lockA := mirrorOf("hic-test")
	b, lockB := mirrorOf("another-signer-with-a-longer-name")
	if pa, pb := lockA.Packages("x86_64"), lockB.Packages("x86_64"); len(pa) == 0 || pa[0].Checksum != pb[0].Checksum {
		t.Fatalf("the two mirrors' packages differ in their control segments: the test needs them equal")
	}
	build := func(cache, dir string, lock *resolve.Lock, keyName string) v1.Hash {
		t.Helper()
		r, err := Build(testCtx(t), imageOf(keyName), lock, Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, CacheDir: cache, TempDir: t.TempDir(), Checked: NewPackageChecks()})
		if err != nil {
			t.Fatal(err)
		}
		return digest(t, r.Index)
	}
	alone := build(t.TempDir(), a, lockA, "hic-test")
	shared := t.TempDir()
	build(shared, b, lockB, "another-signer-with-a-longer-name")
	if got := build(shared, a, lockA, "hic-test"); got != alone {
		t.Errorf("built beside the other mirror's entries: %s; alone: %s", got, alone)
	}
}
