package build

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/layercache"
	"github.com/hic-build/hic/compiler/resolve"
)

// Digests are the same whatever the layer cache holds: none (no cache),
// cold, warm, shared by concurrent builds through two Cache values on one
// directory (as two processes share it), damaged, or deleted.
func TestLayerCacheDigestsIdentical(t *testing.T) {
	ctx := testCtx(t)
	dir, lock, _ := setup(t)
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	build := func(c *layercache.Cache) *Result {
		t.Helper()
		r, err := Build(ctx, testImage(), lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), Layers: c})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want := digest(t, build(nil).Index)

	cacheDir := filepath.Join(t.TempDir(), "layers")
	open := func() *layercache.Cache {
		t.Helper()
		c, err := layercache.Open(cacheDir, 0)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	check := func(what string, r *Result) {
		t.Helper()
		if got := digest(t, r.Index); got != want {
			t.Errorf("%s: index %s, want %s as without a cache", what, got, want)
		}
		// The images read their layers from the cache, byte for byte.
		for p, img := range r.Images {
			ls, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				rc, err := l.Compressed()
				if err != nil {
					t.Fatalf("%s %s: %v", what, p, err)
				}
				got, _, err := v1.SHA256(rc)
				rc.Close()
				d, _ := l.Digest()
				if err != nil || got != d {
					t.Errorf("%s %s: layer %s reads as %s (%v)", what, p, d, got, err)
				}
			}
		}
	}

	cold := build(open())
	check("cold", cold)
	if cold.LayersBuilt == 0 || cold.LayersReused != 0 {
		t.Errorf("cold: %d layers compressed, %d reused; want all compressed", cold.LayersBuilt, cold.LayersReused)
	}
	warm := build(open())
	check("warm", warm)
	if warm.LayersBuilt != 0 || warm.LayersReused != cold.LayersBuilt {
		t.Errorf("warm: %d compressed, %d reused; want 0 and %d", warm.LayersBuilt, warm.LayersReused, cold.LayersBuilt)
	}

	// Two caches on one fresh directory, four builds at once.
	cacheDir = filepath.Join(t.TempDir(), "shared")
	c1, c2 := open(), open()
	var wg sync.WaitGroup
	res := make([]*Result, 4)
	errs := make([]error, 4)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := c1
			if i%2 == 1 {
				c = c2
			}
			res[i], errs[i] = Build(ctx, testImage(), lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), Layers: c})
		}()
	}
	wg.Wait()
	for i, r := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		check("shared", r)
	}
	if s := c1.Stats(); s.Stored+c2.Stats().Stored > 2*cold.LayersBuilt {
		t.Errorf("shared: %d + %d layers stored, at most %d expected (once per cache value)", s.Stored, c2.Stats().Stored, 2*cold.LayersBuilt)
	}

	// A damaged blob is noticed by a process that has not read it yet,
	// dropped and compressed again.
	blobs, err := filepath.Glob(filepath.Join(cacheDir, "blobs", "sha256", "*"))
	if err != nil || len(blobs) == 0 {
		t.Fatalf("no cached blobs: %v", err)
	}
	for _, b := range blobs {
		data, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := os.WriteFile(b, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	damaged := build(open())
	check("damaged", damaged)
	if damaged.LayersBuilt != cold.LayersBuilt {
		t.Errorf("damaged: %d layers compressed again, want %d", damaged.LayersBuilt, cold.LayersBuilt)
	}

	if err := os.RemoveAll(cacheDir); err != nil {
		t.Fatal(err)
	}
	check("deleted", build(open()))
}

// The filesystem Build reads from the tar files apko wrote is the one the
// layers hold: every entry with the same metadata, and the same content of
// the files the checks read, as when the image's layers are decompressed
// and flattened.
func TestResultFSMatchesLayers(t *testing.T) {
	dir, lock, _ := setup(t)
	c, err := layercache.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(testCtx(t), testImage(), lock, Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir(), Layers: c})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Platforms() {
		want, err := inspect.FromLayers(r.Images[p])
		if err != nil {
			t.Fatal(err)
		}
		got := r.FS[p]
		if got == nil {
			t.Fatalf("%s: no filesystem in the result", p)
		}
		if diff := cmp.Diff(entries(t, want), entries(t, got)); diff != "" {
			t.Errorf("%s: entries (-from layers +from build):\n%s", p, diff)
		}
		for _, f := range []string{"etc/passwd", "etc/group", "etc/os-release", "usr/lib/apk/db/installed"} {
			a, err := want.ReadFile(f)
			if err != nil {
				t.Fatalf("%s: %s: %v", p, f, err)
			}
			b, err := got.ReadFile(f)
			if err != nil || string(a) != string(b) {
				t.Errorf("%s: %s differs (%v)", p, f, err)
			}
		}
	}
}

type entry struct {
	Mode       fs.FileMode
	Uid, Gid   int
	Size       int64
	Link, Type string
}

func entries(t *testing.T, fsys inspect.FS) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := fs.Lstat(fsys, name)
		if err != nil {
			return err
		}
		e := entry{Mode: fi.Mode(), Size: fi.Size()}
		if h, ok := fi.Sys().(*tar.Header); ok {
			e.Uid, e.Gid, e.Link, e.Type = h.Uid, h.Gid, h.Linkname, string(h.Typeflag)
			if fi.IsDir() {
				e.Size = 0
			}
		}
		out[name] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A package file verified by an earlier build of the process is not hashed
// again, but one rewritten since (same size, same name) is, and fails.
func TestPackageChecksNoticeRewrittenFile(t *testing.T) {
	ctx := testCtx(t)
	dir, lock, key := setup(t)
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	checked := NewPackageChecks()
	if _, err := Build(ctx, testImage(), lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), Checked: checked}); err != nil {
		t.Fatal(err)
	}
	if len(checked.ok) == 0 {
		t.Fatal("no package verification remembered")
	}
	if _, err := Build(ctx, testImage(), lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), Checked: checked}); err != nil {
		t.Fatal(err)
	}
	// The same bytes would pass: write a package of another content, padded
	// or cut to the original size, over the original.
	f := filepath.Join(dir, "x86_64", "hello-config-0.1-r0.apk")
	orig, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	p := apkrepo.Package{Name: "hello-config", Version: "0.1-r0", Arch: "x86_64", BuildTime: buildTime.Add(-time.Minute), License: "Apache-2.0",
		Files: []apkrepo.File{{Path: "etc/hello/config.json", Data: []byte(`{"greeting":"pwned"}`)}}}
	b, err := apkrepo.BuildAPK(p, key)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, make([]byte, max(0, len(orig)-len(b)))...)[:len(orig)]
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Build(ctx, testImage(), lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), Checked: checked})
	if err == nil || !strings.Contains(err.Error(), "hello-config-0.1-r0") {
		t.Fatalf("rewritten package after a remembered check: got %v, want an error naming it", err)
	}
}

// recordedTars is a LayerTar source that keeps each committed tar by its
// diff ID and counts aborts.
type recordedTars struct {
	mu        sync.Mutex
	committed map[v1.Hash][]byte
	aborted   int
}

type recordedTar struct {
	r   *recordedTars
	buf []byte
}

func (r *recordedTars) new() LayerTar { return &recordedTar{r: r} }

func (t *recordedTar) Write(p []byte) (int, error) { t.buf = append(t.buf, p...); return len(p), nil }
func (t *recordedTar) Abort() {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	t.r.aborted++
}
func (t *recordedTar) Commit(d v1.Hash) {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	if _, ok := t.r.committed[d]; ok {
		panic("a layer's tar committed twice: " + d.String())
	}
	t.r.committed[d] = t.buf
}

// A build's LayerTars get the uncompressed tar of every layer of the host's
// platform it writes, byte for byte, under the layer's diff ID, and
// nothing of another platform's; a build whose layers the cache holds
// writes none.
func TestLayerTarsGetHostLayers(t *testing.T) {
	dir, lock, _ := setup(t)
	c, err := layercache.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	tars := &recordedTars{committed: map[v1.Hash][]byte{}}
	build := func() *Result {
		t.Helper()
		r, err := Build(testCtx(t), testImage(), lock, Options{Mirrors: []resolve.Mirror{{URL: repoURL, Dir: dir}}, TempDir: t.TempDir(), Layers: c, LayerTars: tars.new})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := build()
	host := platform(types.ParseArchitecture(runtime.GOARCH))
	img, ok := r.Images[host]
	if !ok {
		t.Fatalf("no image for the host's platform %s in %v", host, r.Platforms())
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(tars.committed) != len(ls) || tars.aborted != 0 {
		t.Fatalf("%d tars committed, %d aborted, for the %d layers of %s", len(tars.committed), tars.aborted, len(ls), host)
	}
	for _, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tars.committed[d], want) {
			t.Errorf("layer %s: the tar committed (%d bytes) is not the layer's (%d bytes)", d, len(tars.committed[d]), len(want))
		}
	}
	build()
	if len(tars.committed) != len(ls) {
		t.Errorf("a rebuild from a warm cache committed %d tars more", len(tars.committed)-len(ls))
	}
}
