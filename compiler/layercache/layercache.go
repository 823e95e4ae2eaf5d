// Package layercache keeps compressed image layers on disk, addressed by
// what determines their bytes, so that each unique layer is compressed and
// hashed once and then reused by every spec of a build, by later builds and
// by concurrent hic processes sharing the directory.
//
// A layer's key is its uncompressed content (the diff ID, which hashes
// every file, its metadata and the order of the tar entries) together with
// the compressor that produced the compressed bytes (see Key): the same key
// always stands for the same compressed bytes. A layer may also be stored
// under a key of its inputs, a description of everything that determines
// its bytes made before they exist (see InputKey and Input), so that a
// layer the cache holds need not be written or hashed to be found.
//
// Layout of the directory:
//
//	blobs/sha256/<hex>  compressed layers, by digest
//	keys/<key>          JSON: digest, size, diff ID and media type of the key's layer
//	keys/in-<key>       the same, for an input key
//	used/<hex>          empty; its modification time is when the blob was last used
//	tmp/                files being written
//
// Writers write a temporary file and rename it into place, so concurrent
// writers of the same key or blob are safe and readers never see a partial
// file. Blobs are read-only and never written in place, so an OCI layout
// may hard-link them (see BlobFile); for that reason when a blob was last
// used is kept beside it (used/) rather than in its own times, which an
// OCI layout's checks remember. Every blob is hashed the first time a
// process reads it, and again whenever its file is no longer unchanged
// since (fsutil.Unchanged: the same file, size and times), and dropped if
// its bytes do not match its digest; a layout links a blob unchanged since
// it was hashed without hashing it again (see LinkHashed). Open
// trims the directory to a size bound, least recently used first, sparing
// what was used in the last minutes.
package layercache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/gunzip"
	"golang.org/x/sys/unix"
)

// blobMode is the mode of every blob: readable by all, written by none.
const blobMode = 0o444

// DefaultMaxBytes bounds a cache whose Open names no bound: 20 GiB.
const DefaultMaxBytes = 20 << 30

// grace spares recently used blobs from trimming: a concurrent build may
// hold a reference to them until it stores its images.
const grace = 30 * time.Minute

// Cache is a directory of compressed layers. It is safe for concurrent use.
type Cache struct {
	dir string
	max int64

	mu sync.Mutex
	// verified holds, for each blob hashed and found good, its file's
	// stat taken with the hash: the blob is hashed again when its file is
	// no longer unchanged since (fsutil.Unchanged).
	verified map[v1.Hash]os.FileInfo
	calls    map[string]*call
	stats    Stats

	// onHash, when set (by tests), is called with each blob get hashes.
	onHash func(v1.Hash)
}

type call struct {
	done chan struct{}
	l    v1.Layer
	err  error
}

// Open opens (creating it if needed) the cache in dir and trims it to
// maxBytes (0: DefaultMaxBytes).
func Open(dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	for _, d := range []string{"blobs/sha256", "keys", "used", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("layer cache: %w", err)
		}
	}
	c := &Cache{dir: dir, max: maxBytes, verified: map[v1.Hash]os.FileInfo{}, calls: map[string]*call{}}
	if err := c.trim(time.Now()); err != nil {
		return nil, fmt.Errorf("layer cache %s: trim: %w", dir, err)
	}
	return c, nil
}

// Dir is the cache directory.
func (c *Cache) Dir() string { return c.dir }

// Key is the cache key of the layer with uncompressed content diffID
// compressed by compressor, a name for the compressor, its version and its
// parameters.
func Key(diffID v1.Hash, compressor string) string {
	h := sha256.Sum256([]byte("hic layer v1\x00" + compressor + "\x00" + diffID.String()))
	return hex.EncodeToString(h[:])
}

// InputKey is the cache key of a layer described by desc, a description of
// everything that determines the layer's compressed bytes (see Input).
func InputKey(desc []byte) string {
	h := sha256.New()
	h.Write([]byte("hic layer input v1\x00"))
	h.Write(desc)
	return hex.EncodeToString(h.Sum(nil))
}

// Input returns the layer stored under key, an InputKey: a key computed from
// the layer's inputs before its bytes exist. If the cache does not hold it
// intact, Input stores the layer build returns (a layer of this cache, from
// Layer) under key too and reports built. Concurrent calls for the same key
// in one process build it once; the others wait for that result.
func (c *Cache) Input(key string, build func() (v1.Layer, error)) (l v1.Layer, built bool, err error) {
	key = "in-" + key
	l, err = c.once(key, func() (v1.Layer, error) {
		l, b, err := c.input(key, build)
		if err == nil && !b {
			c.count(func(s *Stats) { s.Reused++ })
		}
		built = b
		return l, err
	})
	return l, built, err
}

func (c *Cache) input(key string, build func() (v1.Layer, error)) (v1.Layer, bool, error) {
	l, ok, err := c.get(key)
	if err != nil || ok {
		return l, false, err
	}
	l, err = build()
	if err != nil {
		return nil, false, err
	}
	cl, ok := l.(*layer)
	if !ok {
		return nil, false, fmt.Errorf("layer cache: input %s: built layer is not from this cache", key)
	}
	b, err := json.Marshal(cl.e)
	if err != nil {
		return nil, false, err
	}
	if err := writeAtomic(filepath.Join(c.dir, "tmp"), c.keyPath(key), b); err != nil {
		return nil, false, fmt.Errorf("layer cache: %w", err)
	}
	return l, true, nil
}

// Entry describes one cached layer.
type Entry struct {
	Digest    v1.Hash         `json:"digest"`
	DiffID    v1.Hash         `json:"diffID"`
	Size      int64           `json:"size"`
	MediaType types.MediaType `json:"mediaType"`
}

// Stats counts, since Open, the layers Layer found in the cache (Reused)
// and those it compressed and stored (Stored).
type Stats struct{ Reused, Stored int }

// Stats returns the counts since Open.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Cache) blobPath(h v1.Hash) string { return filepath.Join(c.dir, "blobs", h.Algorithm, h.Hex) }
func (c *Cache) keyPath(key string) string { return filepath.Join(c.dir, "keys", key) }
func (c *Cache) usedPath(h v1.Hash) string { return filepath.Join(c.dir, "used", h.Hex) }

// Layer returns the layer of key from the cache or, if the cache does not
// hold it intact, stores what compress returns (the compressed layer with
// uncompressed content diffID and media type mt) under key and returns it.
// Concurrent calls for the same key in one process compress it once; the
// others wait for that result.
func (c *Cache) Layer(key string, diffID v1.Hash, mt types.MediaType, compress func() (io.ReadCloser, error)) (v1.Layer, error) {
	return c.getOrStore(key, func() (v1.Layer, error) {
		rc, err := compress()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return c.Put(key, diffID, mt, rc)
	})
}

// getOrStore returns the layer of key if the cache holds it intact
// (counted as reused), else the layer store stores under key (counted as
// stored), once among the concurrent calls for key in this process.
func (c *Cache) getOrStore(key string, store func() (v1.Layer, error)) (v1.Layer, error) {
	return c.once(key, func() (v1.Layer, error) {
		l, ok, err := c.Get(key)
		if err != nil {
			return nil, err
		}
		if ok {
			c.count(func(s *Stats) { s.Reused++ })
			return l, nil
		}
		l, err = store()
		if err == nil {
			c.count(func(s *Stats) { s.Stored++ })
		}
		return l, err
	})
}

// once runs f for key, once among the concurrent calls for key in this
// process: the others wait for its result and count it as reused when it
// is not an error.
func (c *Cache) once(key string, f func() (v1.Layer, error)) (v1.Layer, error) {
	c.mu.Lock()
	if cl, ok := c.calls[key]; ok {
		c.mu.Unlock()
		<-cl.done
		if cl.err == nil {
			c.count(func(s *Stats) { s.Reused++ })
		}
		return cl.l, cl.err
	}
	cl := &call{done: make(chan struct{})}
	c.calls[key] = cl
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.calls, key)
		c.mu.Unlock()
		close(cl.done)
	}()
	cl.l, cl.err = f()
	return cl.l, cl.err
}

func (c *Cache) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// Get returns the layer of key, if the cache holds it intact. A key whose
// blob is missing, has another size or other bytes than its digest says is
// removed and reported as absent.
func (c *Cache) Get(key string) (v1.Layer, bool, error) {
	return c.get(key)
}

func (c *Cache) get(key string) (v1.Layer, bool, error) {
	b, err := os.ReadFile(c.keyPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("layer cache: %w", err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil || e.Digest.Algorithm != "sha256" || e.Size <= 0 {
		os.Remove(c.keyPath(key))
		return nil, false, nil
	}
	p := c.blobPath(e.Digest)
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != e.Size {
		os.Remove(c.keyPath(key))
		return nil, false, nil
	}
	c.mu.Lock()
	hashed := c.verified[e.Digest]
	c.mu.Unlock()
	if !fsutil.Unchanged(hashed, fi) {
		if c.onHash != nil {
			c.onHash(e.Digest)
		}
		if hashed, err = checkDigest(p, e.Digest); err != nil {
			os.Remove(p)
			os.Remove(c.keyPath(key))
			return nil, false, nil
		}
		c.mu.Lock()
		c.verified[e.Digest] = hashed
		c.mu.Unlock()
	}
	c.touch(e.Digest)
	return &layer{e: e, path: p, c: c}, true, nil
}

// touch records that blob h is used now, for trimming; best effort.
func (c *Cache) touch(h v1.Hash) {
	p := c.usedPath(h)
	now := time.Now()
	if err := os.Chtimes(p, now, now); errors.Is(err, fs.ErrNotExist) {
		if f, err := os.Create(p); err == nil {
			f.Close()
		}
	}
}

// checkDigest hashes the file p against want and returns its stat, taken
// before the read and found the same after it.
func checkDigest(p string, want v1.Hash) (os.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.Hex {
		return nil, fmt.Errorf("blob %s has digest sha256:%s", want, got)
	}
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fsutil.Unchanged(before, after) {
		return nil, fmt.Errorf("blob %s changed while it was read", want)
	}
	return before, nil
}

// Put stores the compressed layer read from r under key and returns it,
// read back from the cache. diffID and mt describe the layer; the digest
// and size are computed from r.
func (c *Cache) Put(key string, diffID v1.Hash, mt types.MediaType, r io.Reader) (v1.Layer, error) {
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "blob-")
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("layer cache: write layer %s: %w", diffID, err)
	}
	e := Entry{Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, DiffID: diffID, Size: n, MediaType: mt}
	return c.commit(key, tmp.Name(), e)
}

// Write stores a layer whose diff ID is known only once it is written:
// write writes the compressed layer (compressor's bytes of a tar with media
// type mt) to w and returns the diff ID of the tar. The layer is stored
// under Key(diffID, compressor) and returned; if the cache already holds
// that key intact, the cached layer is returned and the bytes written are
// dropped. Unlike Layer, the tar need not exist anywhere before it is
// compressed.
func (c *Cache) Write(compressor string, mt types.MediaType, write func(w io.Writer) (v1.Hash, error)) (v1.Layer, error) {
	tmp, err := os.CreateTemp(filepath.Join(c.dir, "tmp"), "blob-")
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h)}
	diffID, err := write(cw)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("layer cache: write layer: %w", err)
	}
	key := Key(diffID, compressor)
	return c.getOrStore(key, func() (v1.Layer, error) {
		e := Entry{Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, DiffID: diffID, Size: cw.n, MediaType: mt}
		return c.commit(key, tmp.Name(), e)
	})
}

// commit makes the written blob tmp read-only, renames it into place and
// stores e under key. The file's stat after the rename, taken through the
// descriptor of the file written, is what its hash is remembered with.
func (c *Cache) commit(key, tmp string, e Entry) (v1.Layer, error) {
	p := c.blobPath(e.Digest)
	f, err := os.Open(tmp)
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(blobMode); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	hashed, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(c.dir, "tmp"), c.keyPath(key), b); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	c.mu.Lock()
	c.verified[e.Digest] = hashed
	c.mu.Unlock()
	return &layer{e: e, path: p, c: c}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.n += int64(n)
	return n, err
}

func writeAtomic(tmpDir, dst string, b []byte) error {
	f, err := os.CreateTemp(tmpDir, "key-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}

// trim removes blobs, least recently used first, until the cache holds at
// most c.max bytes, sparing blobs used within grace of now. Keys of removed
// blobs are dropped by the next Get that finds them.
func (c *Cache) trim(now time.Time) error {
	dir := filepath.Join(c.dir, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type blob struct {
		path string
		size int64
		used time.Time
	}
	var blobs []blob
	var total int64
	for _, de := range ents {
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		blobs = append(blobs, blob{filepath.Join(dir, de.Name()), fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	if total <= c.max {
		return nil
	}
	for i, b := range blobs {
		if fi, err := os.Stat(filepath.Join(c.dir, "used", filepath.Base(b.path))); err == nil && fi.ModTime().After(b.used) {
			blobs[i].used = fi.ModTime()
		}
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].used.Before(blobs[j].used) })
	for _, b := range blobs {
		if total <= c.max || now.Sub(b.used) < grace {
			break
		}
		if err := os.Remove(b.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		os.Remove(filepath.Join(c.dir, "used", filepath.Base(b.path)))
		total -= b.size
	}
	// Stale temporary files of crashed writers.
	tents, _ := os.ReadDir(filepath.Join(c.dir, "tmp"))
	for _, de := range tents {
		if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > grace {
			os.Remove(filepath.Join(c.dir, "tmp", de.Name()))
		}
	}
	return nil
}

// layer is a cached compressed layer, read from its blob file.
type layer struct {
	e    Entry
	path string
	c    *Cache // holds the stat the blob was hashed with
}

var _ v1.Layer = (*layer)(nil)

func (l *layer) Digest() (v1.Hash, error)            { return l.e.Digest, nil }
func (l *layer) DiffID() (v1.Hash, error)            { return l.e.DiffID, nil }
func (l *layer) Size() (int64, error)                { return l.e.Size, nil }
func (l *layer) MediaType() (types.MediaType, error) { return l.e.MediaType, nil }
func (l *layer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

// BlobFile is the file holding the compressed layer: read-only, never
// written in place (a changed layer is a new file under another name), so
// it may be hard-linked rather than copied.
func (l *layer) BlobFile() string { return l.path }

// LinkHashed hard-links the blob file to dst (a new name on the same
// filesystem) if the file is still the one this process hashed and found
// to be blob h, unchanged since (fsutil.Unchanged), and reports whether it
// did: a caller that must know a link's content is h need not hash it
// again. It links the descriptor it checked, not the name, so a file
// renamed over the blob in between is never linked. The new link changes
// the file's change time; the stat taken after it is remembered in place
// of the old one when nothing else changed (size, modification time, the
// same file with more links), so the link does not make the next Get hash
// the blob again. Not linked (false, no error): the caller links and
// hashes it itself.
func (l *layer) LinkHashed(h v1.Hash, dst string) (bool, error) {
	if h != l.e.Digest {
		return false, nil
	}
	f, err := os.Open(l.path)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return false, nil
	}
	l.c.mu.Lock()
	hashed := l.c.verified[h]
	l.c.mu.Unlock()
	if !fsutil.Unchanged(hashed, before) {
		return false, nil
	}
	// linkat of /proc/self/fd/N with AT_SYMLINK_FOLLOW links the open
	// file itself; it needs no privilege, unlike AT_EMPTY_PATH.
	if err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW); err != nil {
		return false, nil
	}
	after, err := f.Stat()
	if err != nil || !linkedOnly(before, after) {
		os.Remove(dst)
		return false, nil
	}
	l.c.mu.Lock()
	if fsutil.Unchanged(l.c.verified[h], before) {
		l.c.verified[h] = after
	}
	l.c.mu.Unlock()
	return true, nil
}

// linkedOnly reports whether after is a stat of the file before with
// nothing changed but more links (and so the change time).
func linkedOnly(before, after os.FileInfo) bool {
	if !os.SameFile(before, after) || before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) || before.Mode() != after.Mode() {
		return false
	}
	sb, okB := before.Sys().(*syscall.Stat_t)
	sa, okA := after.Sys().(*syscall.Stat_t)
	return okB && okA && sa.Nlink > sb.Nlink && sa.Mtim == sb.Mtim
}

func (l *layer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gunzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layer %s: %w", l.e.Digest, err)
	}
	return &readCloser{Reader: zr, close: func() error { zr.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }
