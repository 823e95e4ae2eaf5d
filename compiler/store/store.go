package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/fsutil"
)

// Annotation keys the store writes on index.json entries.
const (
	AnnotationRefName     = "org.opencontainers.image.ref.name"
	AnnotationSpecRef     = "dev.hic.spec.ref"
	AnnotationInputDigest = "dev.hic.input-digest"
)

const (
	lockName   = ".hic.lock"
	tmpDirName = ".hic-tmp"
	indexName  = "index.json"
	layoutName = "oci-layout"
	layoutFile = `{"imageLayoutVersion": "1.0.0"}`
)

// Entry says what an image index stored with Put is.
type Entry struct {
	// SpecRef is the spec ref ("nginx:1.29-wolfi-runtime"). Required.
	SpecRef string
	// Refs are the image refs ("nginx:1.29", "nginx:1.29-wolfi"), one
	// index.json entry each. With no Refs the image gets one entry with no
	// ref name.
	Refs []string
	// InputDigest is the spec's input digest, for incremental builds.
	InputDigest string
}

// Record is one stored image as index.json lists it.
type Record struct {
	SpecRef     string
	InputDigest string
	Refs        []string
	Descriptor  v1.Descriptor
}

// Store is an open OCI image layout held under its lock: exclusive (Open),
// or shared (OpenReadOnly). Its methods are safe for concurrent use.
type Store struct {
	dir  string
	path layout.Path
	lock *os.File // nil: a read-only store of a layout read without a lock
	// readOnly is set by OpenReadOnly: the store writes nothing.
	readOnly bool

	mu       sync.Mutex // guards manifest, gen, closed, byInput and bySubject
	manifest v1.IndexManifest
	gen      uint64
	closed   bool
	// byInput indexes the manifest's image indexes by input digest, as of
	// generation byInputGen.
	byInput    map[string]v1.Hash
	byInputGen uint64
	// bySubject indexes the artifacts of the manifest by subject digest,
	// as of generation bySubjectGen.
	bySubject    map[v1.Hash][]v1.Descriptor
	bySubjectGen uint64
	// idxMu is held while bySubject is built (subjectIndex), before mu.
	idxMu sync.Mutex
	// bySpec lists the artifacts by their spec annotation ("" for none) and
	// specsOf the specs that built each image index, as of bySpecGen.
	bySpec    map[string][]v1.Descriptor
	specsOf   map[v1.Hash][]string
	bySpecGen uint64

	gcMu sync.RWMutex // Put holds it shared, GC exclusively
	// wmu serialises index.json writes: one write is in flight at a time,
	// and the Puts that swap their entries in meanwhile share the next
	// write, which covers every generation swapped in before it started.
	wmu     sync.Mutex
	written uint64 // the generation index.json holds; guarded by wmu
	// writeIndexJSON writes index.json (fsutil.WriteFileAtomic when nil);
	// tests hold a write in flight with it.
	writeIndexJSON func(path string, b []byte) error

	seq uint64 // temp file names; guarded by mu

	// subjects memoises the subject digest of each referrer manifest read
	// by Referrers (zero: no subject). Blobs are content-addressed, so an
	// entry never goes stale; without it, every Referrers call read every
	// referrer blob of the layout (quadratic in a catalog build's cached specs).
	subjMu   sync.Mutex
	subjects map[v1.Hash]v1.Hash

	// entries memoises the JSON of each index.json entry, so a commit
	// encodes only the entries that changed since the last one; guarded by
	// wmu. Without it every Put re-encoded the whole index (quadratic in a
	// catalog build: a third of its CPU).
	entries map[string][]byte

	// memo remembers the blobs hashed and found good (see Verify), the
	// subjects of referrers and the images verified: a blob is trusted for
	// being present only after that, and across processes only with
	// RememberChecks (memo.go).
	memo memo
	// blobDir is blobs/sha256, open for looking up blobs' identities.
	blobDir *os.File
	// onBlobStat, when set (by tests), is called with each blob whose
	// identity blobID looks up.
	onBlobStat func(v1.Hash)
	// onBlobHash, when set (by tests), is called with each blob linkBlob
	// hashes.
	onBlobHash func(v1.Hash)
}

// Open opens (creating it if needed) the layout at dir and locks it
// exclusively against other hic processes, writers and readers (LockShared).
// Where one holds it, Open fails fast with an *InUseError naming its pid. Temporary files left by a crashed process are removed.
func Open(ctx context.Context, dir string) (*Store, error) {
	return OpenPrefetched(ctx, dir, nil)
}

// IndexPrefetch is a layout's index.json read and decoded in the
// background (PrefetchIndex), before its store is opened: a build decodes
// the catalog meanwhile.
type IndexPrefetch struct {
	done     chan struct{}
	ok       bool
	id       fileID
	manifest v1.IndexManifest
}

// PrefetchIndex starts reading and decoding dir's index.json, without the
// layout's lock and writing nothing. OpenPrefetched uses what it read only
// if index.json is then still that file (the same identity: every write
// of index.json replaces it, and any other write changes its change time).
func PrefetchIndex(dir string) *IndexPrefetch {
	p := &IndexPrefetch{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		f, err := os.Open(filepath.Join(dir, indexName))
		if err != nil {
			return
		}
		defer f.Close()
		before, err := f.Stat()
		if err != nil {
			return
		}
		b, err := io.ReadAll(f)
		if err != nil {
			return
		}
		after, err := f.Stat()
		if err != nil {
			return
		}
		id, ok := idOf(before)
		id2, ok2 := idOf(after)
		if !ok || !ok2 || id != id2 || json.Unmarshal(b, &p.manifest) != nil {
			return
		}
		p.id, p.ok = id, true
	}()
	return p
}

// OpenPrefetched is Open with index.json as pre read it, when it is still
// that file (pre may be nil).
func OpenPrefetched(ctx context.Context, dir string, pre *IndexPrefetch) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	lf, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, path: layout.Path(dir), lock: lf}
	if err := s.init(pre); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(pre *IndexPrefetch) error {
	tmp := filepath.Join(s.dir, tmpDirName)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("store %s: clean temp: %w", s.dir, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	// fsutil.WriteFileAtomic's temporary files of index.json and oci-layout.
	stale, _ := filepath.Glob(filepath.Join(s.dir, ".*.tmp-*"))
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("store %s: clean temp: %w", s.dir, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "blobs", "sha256"), 0o755); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	bd, err := os.Open(filepath.Join(s.dir, "blobs", "sha256"))
	if err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	s.blobDir = bd
	if _, err := os.Stat(filepath.Join(s.dir, layoutName)); errors.Is(err, os.ErrNotExist) {
		if err := fsutil.WriteFileAtomic(filepath.Join(s.dir, layoutName), []byte(layoutFile), 0o644); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
	}
	return s.readIndex(pre)
}

// readIndex reads index.json (as pre read it, if it is still that file); a
// layout without one has no entries.
func (s *Store) readIndex(pre *IndexPrefetch) error {
	if pre != nil {
		<-pre.done
		if fi, err := os.Stat(filepath.Join(s.dir, indexName)); err == nil && pre.ok {
			if id, ok := idOf(fi); ok && id == pre.id {
				s.manifest = pre.manifest
				return nil
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(s.dir, indexName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.manifest = v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	case err != nil:
		return DamagedIndex(s.dir, err)
	default:
		if err := json.Unmarshal(b, &s.manifest); err != nil {
			return DamagedIndex(s.dir, err)
		}
	}
	return nil
}

// DamagedIndex is the error for the index.json of the layout at dir that
// exists but cannot be read or parsed (err). hic does not rebuild it from
// the blobs: the tags, spec refs, input digests and signing keys it records
// are on its entries only, and blobs/ also holds the images and referrers
// of earlier builds (until hic gc), so the blobs cannot tell which image a
// tag names or which signatures are current.
func DamagedIndex(dir string, err error) error {
	return &fsutil.DamagedError{Path: filepath.Join(dir, indexName), Err: err, Fix: fmt.Sprintf(
		"it is the layout's only record of which image each tag names and of each image's spec, input digest and signatures "+
			"(blobs/ also holds the images of earlier builds until hic gc, so hic does not rebuild it from them): "+
			"restore it from a backup, or move the layout aside (mv %s %s.damaged) and build again", filepath.Clean(dir), filepath.Clean(dir))}
}

// ErrClosed is returned by Put on a closed store.
var ErrClosed = errors.New("store is closed")

// Close waits for an index.json write in progress, then releases the lock.
// A Put still running (say, of an abandoned build) fails with ErrClosed and
// leaves index.json alone.
func (s *Store) Close() error {
	s.saveMemo()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.blobDir != nil {
		s.blobDir.Close()
	}
	if s.lock == nil {
		return nil
	}
	_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
	return s.lock.Close()
}

// Dir returns the layout directory.
func (s *Store) Dir() string { return s.dir }

// Layout returns the layout for reading with go-containerregistry.
func (s *Store) Layout() layout.Path { return s.path }

// usable fails when ctx is done or the store is closed.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}
