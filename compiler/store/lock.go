package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The layout's lock file (<dir>/.hic.lock) is flocked without waiting:
// exclusively by the writers (Open: a build, gc), shared by the readers
// (LockShared, OpenReadOnly: publish, verify, attestations, site, gc
// --dry-run), any number of them at once. A process that finds the lock held
// the other way is refused with an *InUseError naming the holders. The file
// names them: a writer replaces its content with its pid, and each reader
// appends its own, so it lists the readers since the last writer, of which
// the error names those still running.

// maxHolders is how many pids an *InUseError names.
const maxHolders = 5

// InUseError is the refusal of a layout's lock that another process holds.
type InUseError struct {
	Dir string
	// PIDs are the holders the lock file names ("unknown" when it names
	// none).
	PIDs []string
	// Reader is set when the refused process wanted to read the layout,
	// which a writer holds; Readers when it wanted to write it, and readers
	// hold it.
	Reader, Readers bool
}

func (e *InUseError) Error() string {
	pids := "pid " + strings.Join(e.PIDs, ", ")
	if len(e.PIDs) > 1 {
		pids = "pids " + strings.Join(e.PIDs, ", ")
	}
	switch {
	case e.Reader:
		return fmt.Sprintf("store %s is in use by another hic process (%s), which is writing it (a build or gc); wait for it to finish", e.Dir, pids)
	case e.Readers:
		return fmt.Sprintf("store %s is in use by another hic process (%s), which is reading it; wait for it to finish or use another output directory", e.Dir, pids)
	}
	return fmt.Sprintf("store %s is in use by another hic process (%s); wait for it to finish or use another output directory", e.Dir, pids)
}

// lockDir takes the exclusive lock of the layout at dir, creating the lock
// file, and writes this process's pid into it for whoever is refused.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store %s: lock: %w", dir, err)
	}
	if err := flock(dir, f, syscall.LOCK_EX); err != nil {
		return nil, err
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// Lock is a reader's shared hold on a layout's lock, from LockShared.
type Lock struct {
	f *os.File // nil: the layout was read without a lock
}

// LockShared takes the lock of the layout at dir shared, for reading the
// layout while no build or gc writes it: beside other readers, but never
// beside a writer, which it refuses at once (*InUseError), as a writer
// refuses to start beside it. The lock file is created when missing, and
// this process's pid is appended to it.
//
// Where the lock file cannot be opened for writing (a read-only layout: a
// read-only file system, or files this user may not write, such as a
// downloaded layout) the lock is taken on the file opened for reading; and
// where it cannot be opened at all (no lock file on a layout nobody may
// write here, or one this user may not read) the layout is read without a
// lock. No writer of this process's could write such a layout, nor, on a
// read-only file system, anyone's; refusing would only make it unreadable.
// Release lets the lock go.
func LockShared(dir string) (*Lock, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	writable := err == nil
	if err != nil && cannotWrite(err) {
		f, err = os.Open(name)
		if errors.Is(err, fs.ErrNotExist) || (err != nil && cannotWrite(err)) {
			return &Lock{}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: lock: %w", dir, err)
	}
	if err := flock(dir, f, syscall.LOCK_SH); err != nil {
		return nil, err
	}
	if writable {
		// O_APPEND: the line of each reader is written whole at the end.
		_, _ = f.Write([]byte(strconv.Itoa(os.Getpid()) + "\n"))
	}
	return &Lock{f: f}, nil
}

// Release lets the lock go; releasing it again does nothing.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return f.Close()
}

// cannotWrite reports whether err says the file system or the file's
// permissions refuse a write.
func cannotWrite(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// flock locks f (how: LOCK_EX or LOCK_SH) without waiting; when another
// process holds it, the error (*InUseError) names the holders the lock file
// names. f is closed on failure.
func flock(dir string, f *os.File, how int) error {
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if err == nil {
		return nil
	}
	defer f.Close()
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("store %s: lock: %w", dir, err)
	}
	e := &InUseError{Dir: dir, PIDs: holders(f), Reader: how == syscall.LOCK_SH}
	// A writer refused where a reader would not be: readers hold it.
	if how == syscall.LOCK_EX {
		e.Readers = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil
	}
	return e
}

// holders are the pids the lock file f names, once each, those still
// running (all of them when none is: another pid namespace), the last
// maxHolders; ["unknown"] for none.
func holders(f *os.File) []string {
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	var all, running []string
	seen := map[string]bool{}
	for _, s := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 || seen[s] {
			continue
		}
		seen[s] = true
		all = append(all, s)
		if alive(pid) {
			running = append(running, s)
		}
	}
	if len(running) == 0 {
		running = all
	}
	if len(running) == 0 {
		return []string{"unknown"}
	}
	return running[max(0, len(running)-maxHolders):]
}

// alive reports whether a process pid runs (one this user may not signal
// does).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
