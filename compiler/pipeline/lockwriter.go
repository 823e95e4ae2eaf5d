package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/resolve"
)

// LockWriter is a Builder that writes each spec's lock into Dir (beside its
// compiled spec, out/compiled/NAME.lock.json) and refuses a rollback: a
// package lower than in the spec's previous lock fails the spec unless the
// stream waives no-rollback (resolve.RuleNoRollback); the previous lock stays.
// The check fails closed: a previous lock that cannot be read or parsed
// fails the spec too (a *fsutil.DamagedError saying how to recover) and is
// left as it is, unless the stream waives no-rollback.
type LockWriter struct {
	Builder
	Dir string
}

var _ Builder = LockWriter{}

// Resolve resolves with the wrapped Builder, then checks and writes the lock.
func (l LockWriter) Resolve(ctx context.Context, img compile.Image) (Lock, error) {
	lock, err := l.Builder.Resolve(ctx, img)
	if err != nil {
		return nil, err
	}
	b, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(l.Dir, strings.TrimSuffix(compile.FileName(img.Ref), ".json")+".lock.json")
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The spec's first build: no lock to compare with.
	case err != nil:
		if _, waived := img.Policy.Waives(resolve.RuleNoRollback); !waived {
			return nil, damagedLock(img.Ref, path, err)
		}
	case bytes.Equal(old, b):
		// The lock of the previous build, unchanged (every cached spec of
		// a no-op build): no rollback, nothing to write.
		return lock, nil
	default:
		if err := noRollback(img, path, old, b); err != nil {
			return nil, err
		}
	}
	if err := fsutil.WriteIfChanged(path, b, 0o644); err != nil {
		return nil, fmt.Errorf("%s: write lock: %w", img.Ref, err)
	}
	return lock, nil
}

// noRollback compares the lock resolved now (next) with the spec's
// previous one (prev, read from path) unless the stream waives the rule.
func noRollback(img compile.Image, path string, prev, next []byte) error {
	if _, waived := img.Policy.Waives(resolve.RuleNoRollback); waived {
		return nil
	}
	p, err := resolve.Parse(prev)
	if err != nil {
		return damagedLock(img.Ref, path, err)
	}
	n, err := resolve.Parse(next)
	if err != nil {
		return fmt.Errorf("%s: %s: the lock resolved now does not parse, so it cannot be compared with the previous one: %w", img.Ref, resolve.RuleNoRollback, err)
	}
	if rb := resolve.Rollbacks(p, n); len(rb) > 0 {
		return &resolve.RollbackError{Ref: img.Ref, Rollbacks: rb}
	}
	return nil
}

// damagedLock is the error for a spec's previous lock (path) that cannot
// be read or parsed (err): without it no-rollback cannot run.
func damagedLock(ref, path string, err error) error {
	return fmt.Errorf("%s: %s: %w", ref, resolve.RuleNoRollback, &fsutil.DamagedError{
		Path: path,
		Err:  err,
		Fix: "it is the spec's previous lock, which the no-rollback check compares the versions resolved now with, " +
			"so the spec is not built and the file is left as it is: restore it from a copy of the last build's output (a backup, a CI artifact), " +
			"or delete it to accept the versions resolved now (the no-rollback check is then skipped for this spec once)",
	})
}
