package main

import (
	"errors"
	"fmt"

	"github.com/hic-build/hic/compiler/store"
)

// lockForReading takes the shared lock of the layout at dir for command,
// which reads it (publish, verify, attestations, site) and may read its blobs
// long after index.json: beside other readers, never beside a build or gc,
// which would replace or remove what it reads. A layout a writer holds is
// refused at once (exit 2), naming it; a read-only layout is read as
// store.LockShared says.
func lockForReading(command, dir string) (*store.Lock, error) {
	l, err := store.LockShared(dir)
	var inUse *store.InUseError
	switch {
	case errors.As(err, &inUse):
		return nil, usageError("%s: %v", command, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", command, err)
	}
	return l, nil
}
