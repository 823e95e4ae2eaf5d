package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/resolve"
)

// countingResolver resolves to a fixed lock and counts its calls.
type countingResolver struct {
	Builder
	calls int
}

func (c *countingResolver) Resolve(_ context.Context, img compile.Image) (Lock, error) {
	c.calls++
	return &resolve.Lock{Ref: img.Ref, Archs: map[string][]resolve.Package{
		"x86_64": {{Name: "nginx", Version: "1.31.4-r0", Arch: "x86_64", Repository: "https://packages.wolfi.dev/os", Checksum: "Q1abc="}},
	}}, nil
}

func TestLockCache(t *testing.T) {
	mirrorDir := t.TempDir()
	index := filepath.Join(mirrorDir, "x86_64", "APKINDEX.tar.gz")
	if err := os.MkdirAll(filepath.Dir(index), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(index, []byte("index v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	mirrors := []resolve.Mirror{{URL: "https://packages.wolfi.dev/os", Dir: mirrorDir}}
	img := compile.Image{Ref: "nginx:1.31-wolfi-runtime", Config: compile.Config{
		Contents: compile.Contents{Repositories: []string{"https://packages.wolfi.dev/os"}, Packages: []string{"nginx=1.31.4-r0"}},
		Archs:    []string{"amd64"},
	}}
	cacheDir := t.TempDir()
	ctx := context.Background()
	inner := &countingResolver{}
	resolveWith := func(lc *LockCache, img compile.Image) *resolve.Lock {
		t.Helper()
		l, err := lc.Resolve(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := l.(marshaledLock); ok {
			b, err := m.Lock.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.b, b) {
				t.Errorf("the bytes LockCache gives of %s are not its lock's Marshal:\n%s\nwant\n%s", img.Ref, m.b, b)
			}
			l = m.Lock
		}
		return l.(*resolve.Lock)
	}

	run1 := &LockCache{Builder: inner, Dir: cacheDir, Mirrors: mirrors}
	first := resolveWith(run1, img)
	resolveWith(run1, img)
	run2 := &LockCache{Builder: inner, Dir: cacheDir, Mirrors: mirrors} // a later build
	second := resolveWith(run2, img)
	if inner.calls != 1 {
		t.Errorf("resolved %d times for an unchanged spec and mirror, want 1", inner.calls)
	}
	if second.Ref != first.Ref || len(second.Archs["x86_64"]) != 1 {
		t.Errorf("cached lock %+v differs from the resolved one %+v", second, first)
	}

	changed := img
	changed.Config.Contents.Packages = []string{"nginx=1.31.5-r0"}
	resolveWith(run2, changed)
	if inner.calls != 2 {
		t.Errorf("a changed spec was not resolved again (calls %d, want 2)", inner.calls)
	}

	if err := os.WriteFile(index, []byte("index v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	resolveWith(&LockCache{Builder: inner, Dir: cacheDir, Mirrors: mirrors}, img)
	if inner.calls != 3 {
		t.Errorf("a changed mirror index did not resolve again (calls %d, want 3)", inner.calls)
	}

	unmirrored := img
	unmirrored.Config.Contents.Repositories = []string{"https://example.org/os"}
	lc := &LockCache{Builder: inner, Dir: cacheDir, Mirrors: mirrors}
	resolveWith(lc, unmirrored)
	resolveWith(lc, unmirrored)
	if inner.calls != 5 {
		t.Errorf("a spec with an unmirrored repository was served from the cache (calls %d, want 5)", inner.calls)
	}
}
