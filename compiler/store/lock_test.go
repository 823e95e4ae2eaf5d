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
)

// TestReadersShareTheLock: readers (LockShared, OpenReadOnly) hold the lock
// together, and a writer (Open) is refused beside them, naming them, until
// the last one lets it go.
func TestReadersShareTheLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	openT(t, dir).Close()
	a, err := LockShared(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LockShared(dir)
	if err != nil {
		t.Fatalf("a second reader beside the first: %v", err)
	}
	ro, err := OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatalf("OpenReadOnly beside two readers: %v", err)
	}
	ro.Close()
	a.Release()

	_, err = Open(ctx, dir)
	var ie *InUseError
	if !errors.As(err, &ie) || !ie.Readers || ie.Reader {
		t.Fatalf("Open beside a reader = %v, want an *InUseError of readers", err)
	}
	want := "store " + dir + " is in use by another hic process (pid " + strconv.Itoa(os.Getpid()) + "), which is reading it; wait for it to finish"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open beside a reader says\n%s\nwant it to start with\n%s", err, want)
	}
	b.Release()
	b.Release() // again: nothing
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open once the readers are gone: %v", err)
	}
	s.Close()
}

// TestReaderRefusedBesideWriter: a reader is refused at once while a build
// or gc holds the layout, naming it.
func TestReaderRefusedBesideWriter(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	_, err := LockShared(dir)
	var ie *InUseError
	if !errors.As(err, &ie) || !ie.Reader {
		t.Fatalf("LockShared beside Open = %v, want an *InUseError for a reader", err)
	}
	want := "store " + dir + " is in use by another hic process (pid " + strconv.Itoa(os.Getpid()) + "), which is writing it (a build or gc); wait for it to finish"
	if err.Error() != want {
		t.Errorf("LockShared beside Open says\n%s\nwant\n%s", err, want)
	}
	s.Close()
	l, err := LockShared(dir)
	if err != nil {
		t.Fatalf("LockShared once the writer is gone: %v", err)
	}
	l.Release()
}

// TestInUseNamesRunningHolders: of the readers the lock file names, the
// refusal names those still running; a writer starts the list afresh.
func TestInUseNamesRunningHolders(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir).Close()
	l, err := LockShared(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	// A reader that has exited (no pid is above the kernel's 2^22 limit).
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("4194400\n")
	f.Close()
	_, err = Open(context.Background(), dir)
	var ie *InUseError
	if !errors.As(err, &ie) || strings.Join(ie.PIDs, " ") != strconv.Itoa(os.Getpid()) {
		t.Errorf("Open beside a reader = %v, want the running reader named alone", err)
	}
}

// TestLockSharedReadOnlyLayout: a reader of a layout it may not write takes
// the lock on the file opened for reading, and without a lock file it may
// open reads without a lock.
func TestLockSharedReadOnlyLayout(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes what permissions forbid")
	}
	dir := t.TempDir()
	s := openT(t, dir)
	lf := filepath.Join(dir, lockName)
	if err := os.Chmod(lf, 0o444); err != nil {
		t.Fatal(err)
	}
	// Read-only, the lock still keeps a writer out.
	if _, err := LockShared(dir); err == nil {
		t.Fatal("LockShared of a read-only lock file beside Open succeeded")
	}
	s.Close()
	l, err := LockShared(dir)
	if err != nil || l.f == nil {
		t.Fatalf("LockShared of a read-only lock file = %v, %v; want a lock", l, err)
	}
	l.Release()

	// A lock file this user may not read, in a directory it may not write;
	// then none at all.
	if err := os.Chmod(lf, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	for _, what := range []string{"an unreadable lock file", "no lock file"} {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		l, err = LockShared(dir)
		if err != nil || l.f != nil {
			t.Errorf("LockShared of a read-only layout with %s = %v, %v; want no lock, no error", what, l, err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(lf); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}
