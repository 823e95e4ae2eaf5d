package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tree is every path under dir with its mode, size and modification time,
// but the lock file (which OpenReadOnly may take).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == lockName {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10) + " " + fi.ModTime().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenReadOnlyChangesNothing opens a layout with a replaced image (blobs
// to collect), a removed spec (an image to prune) and a stale temporary file
// read-only: the dry runs answer, the writes are refused with ErrReadOnly,
// and no file of the layout changes.
func TestOpenReadOnlyChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{{SpecRef: "a:1", Refs: []string{"a:1"}}, {SpecRef: "a:1", Refs: []string{"a:1"}}, {SpecRef: "gone:1", Refs: []string{"gone:1"}}} {
		if _, err := s.Put(ctx, e, randomIndex(t)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, tmpDirName, "stale"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, layoutName)); err != nil { // Open writes it back
		t.Fatal(err)
	}
	before := tree(t, dir)

	ro, err := OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// A verified image is remembered, but the memo is not saved.
	ro.RememberChecks(make([]byte, memoKeyLen))
	for _, r := range ro.Records() {
		if err := ro.Verify(r.Descriptor.Digest); err != nil {
			t.Fatal(err)
		}
	}
	keep := func(spec string) bool { return spec != "gone:1" }
	if gone, err := ro.Prune(ctx, keep, true); err != nil || len(gone) != 1 {
		t.Errorf("dry-run Prune = %v, %v; want the image of gone:1", gone, err)
	}
	if n, _, err := ro.GC(ctx, true); err != nil || n != 9 {
		t.Errorf("dry-run GC = %d blobs, %v; want the 9 of the replaced image", n, err)
	}
	if _, err := ro.Prune(ctx, keep, false); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Prune = %v, want ErrReadOnly", err)
	}
	if _, _, err := ro.GC(ctx, false); !errors.Is(err, ErrReadOnly) {
		t.Errorf("GC = %v, want ErrReadOnly", err)
	}
	if _, err := ro.Put(ctx, Entry{SpecRef: "b:1"}, randomIndex(t)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Put = %v, want ErrReadOnly", err)
	}
	if _, err := ro.PutRejected(ctx, "b:1", "why", randomIndex(t)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("PutRejected = %v, want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, tree(t, dir)); d != "" {
		t.Errorf("OpenReadOnly changed the layout (-before +after):\n%s", d)
	}
}

// TestOpenReadOnlyLockedOut: a read-only store takes the layout's lock too,
// so it never reads beside a build, and a build never starts beside it.
func TestOpenReadOnlyLockedOut(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	_, err := OpenReadOnly(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "in use by another hic process (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("OpenReadOnly beside Open = %v, want the holder named", err)
	}
	s.Close()
	ro, err := OpenReadOnly(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := Open(context.Background(), dir); err == nil {
		t.Error("Open beside OpenReadOnly succeeded, want lock error")
	}
	if _, err := OpenReadOnly(context.Background(), filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of a missing directory = %v, want ErrNotExist", err)
	}
}
