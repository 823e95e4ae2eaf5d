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

// lockDir takes the exclusive lock of the layout at dir, creating the lock
// file, and writes this process's pid into it for whoever waits.
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

// lockDirShared locks the layout at dir for OpenReadOnly: exclusively, as
// lockDir, when the lock file can be opened for writing; else, on a layout
// this process cannot write, with a shared lock on the lock file, or with
// none (nil) when there is no lock file.
func lockDirShared(dir string) (*os.File, error) {
	f, err := lockDir(dir)
	if err == nil || !cannotWrite(err) {
		return f, err
	}
	f, err = os.Open(filepath.Join(dir, lockName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("store %s: lock: %w", dir, err)
	}
	if err := flock(dir, f, syscall.LOCK_SH); err != nil {
		return nil, err
	}
	return f, nil
}

// cannotWrite reports whether err says the file system or the file's
// permissions refuse a write.
func cannotWrite(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// flock locks f (how: LOCK_EX or LOCK_SH) without waiting; when another
// process holds it, the error names the pid the lock file holds. f is
// closed on failure.
func flock(dir string, f *os.File, how int) error {
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if err == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(f, 64))
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		pid := strings.TrimSpace(string(b))
		if pid == "" {
			pid = "unknown"
		}
		return fmt.Errorf("store %s is in use by another hic process (pid %s); wait for it to finish or use another output directory", dir, pid)
	}
	return fmt.Errorf("store %s: lock: %w", dir, err)
}
