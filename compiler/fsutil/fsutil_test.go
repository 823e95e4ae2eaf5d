package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.json")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("read back %q, %v; want two", b, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(p, "below-a-file"), nil, 0o644); err == nil {
		t.Error("writing below a regular file succeeded")
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{".hic-build-123", ".hic-build-abc/nested", "keep", ".hic-buildx"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".hic-build-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RemoveStale(dir, ".hic-build-"); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	want := []string{".hic-build-file", ".hic-buildx", "keep"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("left %v, want %v", got, want)
	}
	if err := RemoveStale(filepath.Join(dir, "missing"), ".hic-build-"); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
}

// Within follows symlinks and takes a path that does not exist yet as
// written below its deepest existing ancestor.
func TestWithin(t *testing.T) {
	tmp := t.TempDir()
	cat := filepath.Join(tmp, "cat")
	if err := os.MkdirAll(filepath.Join(cat, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cat, filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(cat, "web"), filepath.Join(tmp, "web-link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{cat, true},
		{filepath.Join(cat, "out"), true},
		{filepath.Join(cat, "web", "new", "out"), true},
		{filepath.Join(tmp, "link", "out"), true},
		{filepath.Join(tmp, "web-link", "out"), true},
		{filepath.Join(cat, "..", "out"), false},
		{tmp, false},
		{filepath.Join(tmp, "cat-out"), false},
		{filepath.Join(tmp, "out", "cat"), false},
	} {
		got, err := Within(tc.path, cat)
		if err != nil || got != tc.want {
			t.Errorf("Within(%s, %s) = %v, %v; want %v", tc.path, cat, got, err, tc.want)
		}
	}
	// The catalog given through a symlink too.
	if got, _ := Within(filepath.Join(cat, "out"), filepath.Join(tmp, "link")); !got {
		t.Errorf("Within(cat/out, link) = false, want true")
	}
}
