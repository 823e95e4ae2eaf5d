package smoke

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Feed makes a layer's tree from the layer's tar as a build writes it, so
// that a root filesystem holding the layer finds its tree made: the layer
// is then not decompressed, hashed and read again for the smoke tests.
//
// Write the layer's whole tar to the feed, then call Commit with the tar's
// diff ID, or Abort. Writes never fail: a feed that cannot make its tree
// (a full disk, closed trees, a tar it cannot read) takes the rest of the
// tar and registers nothing, and the layer is extracted when a root
// filesystem needs it, as without a feed. A Feed is used by one goroutine.
type Feed struct {
	t     *LayerTrees
	pw    *io.PipeWriter // nil when the feed failed before its first write
	dir   string         // the tree being made, "" when none
	ended bool

	done    chan struct{} // closed when the fields below are set
	size    int64
	entries []treeEntry
	err     error
}

var errFeedAborted = errors.New("the layer's tar was not finished")

// NewFeed returns a Feed for one layer, whose tree is made under the trees'
// directory.
func (t *LayerTrees) NewFeed() *Feed {
	f := &Feed{t: t, done: make(chan struct{})}
	t.mu.Lock()
	parent, err := t.dirLocked()
	t.mu.Unlock()
	if err == nil {
		f.dir, err = os.MkdirTemp(parent, "feed-")
	}
	if err == nil {
		err = os.Chmod(f.dir, 0o755) // as an extracted layer's
	}
	if err != nil {
		f.err = err
		close(f.done)
		return f
	}
	pr, pw := io.Pipe()
	f.pw = pw
	go func() {
		defer close(f.done)
		// The feed's writer ends the tar with Commit or Abort, which close
		// the pipe: no context bounds this read.
		size, entries, err := t.readTree(context.Background(), tar.NewReader(pr), f.dir)
		if err == nil {
			_, err = io.Copy(io.Discard, pr) // the padding after the last entry
		}
		// On an error, the writer's next write returns at once.
		pr.CloseWithError(err)
		f.size, f.entries, f.err = size, entries, err
	}()
	return f
}

// Write passes p to the tree being made. It always takes all of p: a
// failure is the tree's, not the writer's.
func (f *Feed) Write(p []byte) (int, error) {
	if f.pw != nil && !f.ended {
		_, _ = f.pw.Write(p)
	}
	return len(p), nil
}

// Commit ends the tar and, if the feed made its tree, registers the tree as
// that of the layer with diffID. diffID must be the sha256 of the bytes
// written (the build computed it from the same bytes, so the tree is not
// hashed again). A tree already made for diffID is kept and the feed's
// removed.
func (f *Feed) Commit(diffID v1.Hash) {
	if !f.end(nil) {
		return
	}
	t := f.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.trees[diffID]; ok || t.closed {
		os.RemoveAll(f.dir)
		return
	}
	dir := filepath.Join(filepath.Dir(f.dir), "layer-"+diffID.Hex)
	if err := os.Rename(f.dir, dir); err != nil {
		os.RemoveAll(f.dir)
		return
	}
	ready := make(chan struct{})
	close(ready)
	t.clock++
	t.trees[diffID] = &layerTree{dir: dir, ready: ready, entries: f.entries, size: f.size, used: t.clock}
	t.idle += f.size
	t.fed++
	t.evictLocked()
}

// Abort ends the feed without a tree: the tar was not finished.
func (f *Feed) Abort() { f.end(errFeedAborted) }

// end closes the pipe with cause (nil: the tar is complete), waits for the
// tree and reports whether it was made; a tree that was not is removed.
func (f *Feed) end(cause error) bool {
	if f.ended {
		return false
	}
	f.ended = true
	if f.pw != nil {
		f.pw.CloseWithError(cause)
	}
	<-f.done
	ok := cause == nil && f.err == nil
	if !ok && f.dir != "" {
		os.RemoveAll(f.dir)
	}
	return ok
}
