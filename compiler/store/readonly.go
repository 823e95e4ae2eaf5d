package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// ErrReadOnly is returned by the methods that would change a store opened
// with OpenReadOnly.
var ErrReadOnly = errors.New("store is open read-only")

// OpenReadOnly opens the existing layout at dir for reading, changing
// nothing in it but the lock file: no temporary files are cleaned up, no
// oci-layout file is written, no memo of checks is saved, and Put,
// PutRejected, Prune and GC fail with ErrReadOnly unless they are dry runs.
// It takes the layout's lock shared (LockShared), so that it never reads
// beside a build or gc, and other readers may read beside it; a read-only
// layout is read with the lock file opened for reading, or without a lock
// where there is no lock file to open.
func OpenReadOnly(ctx context.Context, dir string) (*Store, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("store %s: not a directory", dir)
	}
	l, err := LockShared(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, path: layout.Path(dir), lock: l.f, readOnly: true}
	if err := s.readIndex(nil); err != nil {
		s.Close()
		return nil, err
	}
	// blobs/sha256 may be missing from a layout with no blobs yet: then
	// blobID stats paths.
	if bd, err := os.Open(filepath.Join(dir, "blobs", "sha256")); err == nil {
		s.blobDir = bd
	}
	return s, nil
}

// writable fails for a store opened with OpenReadOnly.
func (s *Store) writable() error {
	if s.readOnly {
		return ErrReadOnly
	}
	return nil
}
