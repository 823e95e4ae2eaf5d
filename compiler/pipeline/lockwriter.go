package pipeline

import (
	"bytes"
	"context"
	"fmt"
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
	name := strings.TrimSuffix(compile.FileName(img.Ref), ".json") + ".lock.json"
	old, err := os.ReadFile(filepath.Join(l.Dir, name))
	if err == nil && bytes.Equal(old, b) {
		// The lock of the previous build, unchanged (every cached spec of
		// a no-op build): no rollback, nothing to write.
		return lock, nil
	}
	if err == nil {
		prev, perr := resolve.Parse(old)
		next, nerr := resolve.Parse(b)
		if perr == nil && nerr == nil {
			if rb := resolve.Rollbacks(prev, next); len(rb) > 0 {
				if _, waived := img.Policy.Waives(resolve.RuleNoRollback); !waived {
					return nil, &resolve.RollbackError{Ref: img.Ref, Rollbacks: rb}
				}
			}
		}
	}
	if err := fsutil.WriteIfChanged(filepath.Join(l.Dir, name), b, 0o644); err != nil {
		return nil, fmt.Errorf("%s: write lock: %w", img.Ref, err)
	}
	return lock, nil
}
