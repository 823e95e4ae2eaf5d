package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// Store is an open OCI image layout held under an exclusive lock. Its methods
// are safe for concurrent use.
type Store struct {
	dir  string
	path layout.Path
	lock *os.File

	mu       sync.Mutex // guards manifest, gen, closed and byInput
	manifest v1.IndexManifest
	gen      uint64
	closed   bool
	// byInput indexes the manifest's image indexes by input digest, as of
	// generation byInputGen.
	byInput    map[string]v1.Hash
	byInputGen uint64

	gcMu    sync.RWMutex // Put and Attach hold it shared, GC exclusively
	wmu     sync.Mutex   // serialises index.json writes
	written uint64
	seq     uint64 // temp file names; guarded by mu

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
}

// Open opens (creating it if needed) the layout at dir and locks it against
// other hic processes. A second process fails fast with an error naming the
// holder's pid. Temporary files left by a crashed process are removed.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	lf, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, path: layout.Path(dir), lock: lf}
	if err := s.init(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store %s: lock: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 64))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("store %s is in use by another hic process (pid %s); wait for it to finish or use another output directory", dir, pid)
		}
		return nil, fmt.Errorf("store %s: lock: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func (s *Store) init() error {
	tmp := filepath.Join(s.dir, tmpDirName)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("store %s: clean temp: %w", s.dir, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "blobs", "sha256"), 0o755); err != nil {
		return fmt.Errorf("store %s: %w", s.dir, err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, layoutName)); errors.Is(err, os.ErrNotExist) {
		if err := s.writeFileAtomic(layoutName, []byte(layoutFile)); err != nil {
			return fmt.Errorf("store %s: %w", s.dir, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(s.dir, indexName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.manifest = v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	case err != nil:
		return fmt.Errorf("store %s: %w", s.dir, err)
	default:
		if err := json.Unmarshal(b, &s.manifest); err != nil {
			return fmt.Errorf("store %s: index.json: %w", s.dir, err)
		}
	}
	return nil
}

// ErrClosed is returned by Put and Attach on a closed store.
var ErrClosed = errors.New("store is closed")

// Close waits for an index.json write in progress, then releases the lock.
// A Put still running (say, of an abandoned build) fails with ErrClosed and
// leaves index.json alone.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
	return s.lock.Close()
}

// Dir returns the layout directory.
func (s *Store) Dir() string { return s.dir }

// Layout returns the layout for reading with go-containerregistry.
func (s *Store) Layout() layout.Path { return s.path }

// Put writes idx and referrers (all their blobs first), then atomically
// replaces the index.json entries of e.SpecRef (and any entry holding one of
// e.Refs) with the new ones. If ctx is cancelled before the swap, index.json is
// left as it was. It returns the descriptor of idx.
func (s *Store) Put(ctx context.Context, e Entry, idx v1.ImageIndex, referrers ...Referrer) (v1.Descriptor, error) {
	if e.SpecRef == "" {
		return v1.Descriptor{}, errors.New("store: put: empty spec ref")
	}
	if err := s.usable(ctx); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", e.SpecRef, err)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	desc, err := s.writeIndex(ctx, idx)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", e.SpecRef, err)
	}
	var arts []v1.Descriptor
	for _, r := range referrers {
		d, err := s.writeReferrer(r)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("%s: store: %w", e.SpecRef, err)
		}
		d.Annotations = map[string]string{}
		for k, v := range r.Annotations {
			d.Annotations[k] = v
		}
		d.Annotations[AnnotationSpecRef] = e.SpecRef
		if e.InputDigest != "" {
			d.Annotations[AnnotationInputDigest] = e.InputDigest
		}
		arts = append(arts, d)
	}
	if err := syncDir(filepath.Join(s.dir, "blobs", "sha256")); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", e.SpecRef, err)
	}
	if err := ctx.Err(); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", e.SpecRef, err)
	}

	entries := entriesFor(e, desc)
	refs := map[string]bool{}
	for _, r := range e.Refs {
		refs[r] = true
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", e.SpecRef, ErrClosed)
	}
	kept := make([]v1.Descriptor, 0, len(s.manifest.Manifests)+len(entries)+len(arts))
	for _, d := range s.manifest.Manifests {
		if d.Annotations[AnnotationSpecRef] == e.SpecRef || refs[d.Annotations[AnnotationRefName]] {
			continue
		}
		kept = append(kept, d)
	}
	kept = append(kept, entries...)
	kept = append(kept, arts...)
	sortEntries(kept)
	s.manifest.Manifests = kept
	s.gen++
	my := s.gen
	s.mu.Unlock()

	if err := s.commit(my); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", e.SpecRef, err)
	}
	return desc, nil
}

func entriesFor(e Entry, desc v1.Descriptor) []v1.Descriptor {
	mk := func(ref string) v1.Descriptor {
		d := v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size,
			Annotations: map[string]string{AnnotationSpecRef: e.SpecRef}}
		if ref != "" {
			d.Annotations[AnnotationRefName] = ref
		}
		if e.InputDigest != "" {
			d.Annotations[AnnotationInputDigest] = e.InputDigest
		}
		return d
	}
	if len(e.Refs) == 0 {
		return []v1.Descriptor{mk("")}
	}
	out := make([]v1.Descriptor, 0, len(e.Refs))
	for _, r := range e.Refs {
		out = append(out, mk(r))
	}
	return out
}

// sortEntries orders index.json deterministically: by spec ref, images before
// artifacts, then ref name, then digest.
func sortEntries(ds []v1.Descriptor) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if x, y := a.Annotations[AnnotationSpecRef], b.Annotations[AnnotationSpecRef]; x != y {
			return x < y
		}
		if x, y := isIndex(a.MediaType), isIndex(b.MediaType); x != y {
			return x
		}
		if x, y := a.Annotations[AnnotationRefName], b.Annotations[AnnotationRefName]; x != y {
			return x < y
		}
		if a.ArtifactType != b.ArtifactType {
			return a.ArtifactType < b.ArtifactType
		}
		return a.Digest.String() < b.Digest.String()
	})
}

func isIndex(mt types.MediaType) bool {
	return mt == types.OCIImageIndex || mt == types.DockerManifestList
}

// commit writes index.json if no later write already covered generation my
// (concurrent Puts share one write).
func (s *Store) commit(my uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.written >= my {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	b, err := s.encodeIndex()
	gen := s.gen
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.writeFileAtomic(indexName, b); err != nil {
		return err
	}
	s.written = gen
	return nil
}

// encodeIndex renders index.json: the index's own fields indented, then one
// compact line per entry, in the (sorted) order of the manifest. The caller
// holds mu and wmu.
func (s *Store) encodeIndex() ([]byte, error) {
	m := s.manifest
	if len(m.Annotations) > 0 || m.Subject != nil || m.ArtifactType != "" {
		return json.MarshalIndent(m, "", "  ") // never written by the store
	}
	mt, err := json.Marshal(m.MediaType)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\n  \"schemaVersion\": %d,\n", m.SchemaVersion)
	if m.MediaType != "" {
		fmt.Fprintf(&buf, "  \"mediaType\": %s,\n", mt)
	}
	buf.WriteString("  \"manifests\": [")
	used := make(map[string][]byte, len(s.manifest.Manifests))
	for i, d := range s.manifest.Manifests {
		k, err := entryKey(d)
		if err != nil {
			return nil, err
		}
		e, ok := s.entries[k]
		if !ok {
			if e, err = json.Marshal(d); err != nil {
				return nil, err
			}
		}
		used[k] = e
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		buf.Write(e)
	}
	if len(m.Manifests) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("]\n}\n")
	s.entries = used
	return buf.Bytes(), nil
}

// entryKey identifies an index entry by everything that is encoded of it.
func entryKey(d v1.Descriptor) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%d\x00%s\x00", d.Digest, d.MediaType, d.Size, d.ArtifactType)
	if d.Platform != nil || len(d.URLs) > 0 || len(d.Data) > 0 {
		// Rare in this layout: key by the full encoding.
		j, err := json.Marshal(d)
		return string(j), err
	}
	keys := make([]string, 0, len(d.Annotations))
	for k := range d.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(d.Annotations[k])
		b.WriteByte(0)
	}
	return b.String(), nil
}

// Has reports whether an image with the given input digest is stored (and
// its index manifest blob is present), and its index digest.
func (s *Store) Has(inputDigest string) (v1.Hash, bool) {
	if inputDigest == "" {
		return v1.Hash{}, false
	}
	s.mu.Lock()
	if s.byInput == nil || s.byInputGen != s.gen {
		// Rebuilt only after a change: a build of cached specs asks once per
		// spec and would otherwise scan the whole index each time.
		s.byInput = map[string]v1.Hash{}
		for _, d := range s.manifest.Manifests {
			if in := d.Annotations[AnnotationInputDigest]; in != "" && isIndex(d.MediaType) {
				if _, seen := s.byInput[in]; !seen {
					s.byInput[in] = d.Digest
				}
			}
		}
		s.byInputGen = s.gen
	}
	var found *v1.Hash
	if h, ok := s.byInput[inputDigest]; ok {
		found = &h
	}
	s.mu.Unlock()
	if found == nil || !s.complete(*found) {
		return v1.Hash{}, false
	}
	return *found, true
}

// complete reports whether every blob an image index needs is present: the
// index, each child manifest, its config and its layers. A layout that lost a
// blob is then rebuilt by the next build instead of staying broken. It only
// stats the blobs; their digests were checked when they were written.
func (s *Store) complete(h v1.Hash) bool {
	b, err := s.Blob(h)
	if err != nil {
		return false
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return false
	}
	for _, d := range idx.Manifests {
		mb, err := s.Blob(d.Digest)
		if err != nil {
			return false
		}
		if d.MediaType.IsIndex() {
			if !s.complete(d.Digest) {
				return false
			}
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(mb))
		if err != nil {
			return false
		}
		if !s.hasBlob(m.Config.Digest) {
			return false
		}
		for _, l := range m.Layers {
			if !s.hasBlob(l.Digest) {
				return false
			}
		}
	}
	return true
}

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

// Attach adds referrers (say, attestations made after the build) to the
// stored image of specRef, in one index.json swap. A referrer whose manifest
// is already listed is not added twice. They are replaced with the spec's
// other entries when the spec is rebuilt.
func (s *Store) Attach(ctx context.Context, specRef string, referrers ...Referrer) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("%s: store: %w", specRef, err)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	rec, ok := s.Lookup(specRef)
	if !ok {
		return fmt.Errorf("%s: store: no image stored for this spec", specRef)
	}
	var add []v1.Descriptor
	for _, r := range referrers {
		d, err := s.writeReferrer(r)
		if err != nil {
			return fmt.Errorf("%s: store: %w", specRef, err)
		}
		d.Annotations = map[string]string{}
		for k, v := range r.Annotations {
			d.Annotations[k] = v
		}
		d.Annotations[AnnotationSpecRef] = specRef
		if rec.InputDigest != "" {
			d.Annotations[AnnotationInputDigest] = rec.InputDigest
		}
		add = append(add, d)
	}
	if err := syncDir(filepath.Join(s.dir, "blobs", "sha256")); err != nil {
		return fmt.Errorf("%s: store: %w", specRef, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: store: %w", specRef, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("%s: store: %w", specRef, ErrClosed)
	}
	have := map[v1.Hash]bool{}
	for _, d := range s.manifest.Manifests {
		if d.Annotations[AnnotationSpecRef] == specRef {
			have[d.Digest] = true
		}
	}
	changed := false
	for _, d := range add {
		if !have[d.Digest] {
			s.manifest.Manifests = append(s.manifest.Manifests, d)
			have[d.Digest] = true
			changed = true
		}
	}
	if !changed {
		s.mu.Unlock()
		return nil
	}
	sortEntries(s.manifest.Manifests)
	s.gen++
	my := s.gen
	s.mu.Unlock()
	if err := s.commit(my); err != nil {
		return fmt.Errorf("%s: store: %w", specRef, err)
	}
	return nil
}

// Lookup returns the stored image of a spec.
func (s *Store) Lookup(specRef string) (Record, bool) {
	for _, r := range s.Records() {
		if r.SpecRef == specRef {
			return r, true
		}
	}
	return Record{}, false
}

// Records lists the stored images, one per spec, ordered by spec ref.
func (s *Store) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	idx := map[string]int{}
	for _, d := range s.manifest.Manifests {
		if !isIndex(d.MediaType) {
			continue
		}
		spec := d.Annotations[AnnotationSpecRef]
		i, ok := idx[spec]
		if !ok {
			i = len(out)
			idx[spec] = i
			out = append(out, Record{SpecRef: spec, InputDigest: d.Annotations[AnnotationInputDigest],
				Descriptor: v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}})
		}
		if r := d.Annotations[AnnotationRefName]; r != "" {
			out[i].Refs = append(out[i].Refs, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SpecRef < out[j].SpecRef })
	return out
}

// Referrers returns the artifacts in index.json whose subject is subject,
// optionally only those of artifactType.
func (s *Store) Referrers(subject v1.Hash, artifactType string) ([]v1.Descriptor, error) {
	s.mu.Lock()
	var cands []v1.Descriptor
	for _, d := range s.manifest.Manifests {
		if d.ArtifactType != "" && (artifactType == "" || d.ArtifactType == artifactType) {
			cands = append(cands, d)
		}
	}
	s.mu.Unlock()
	var out []v1.Descriptor
	for _, d := range cands {
		subj, err := s.subjectOf(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("store: referrer %s: %w", d.Digest, err)
		}
		if subj == subject {
			out = append(out, d)
		}
	}
	return out, nil
}

// subjectOf returns the subject digest of the referrer manifest h (zero if
// it has none), reading the blob only the first time.
func (s *Store) subjectOf(h v1.Hash) (v1.Hash, error) {
	s.subjMu.Lock()
	subj, ok := s.subjects[h]
	s.subjMu.Unlock()
	if ok {
		return subj, nil
	}
	b, err := s.path.Bytes(h)
	if err != nil {
		return v1.Hash{}, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return v1.Hash{}, err
	}
	if m.Subject != nil {
		subj = m.Subject.Digest
	}
	s.subjMu.Lock()
	if s.subjects == nil {
		s.subjects = map[v1.Hash]v1.Hash{}
	}
	s.subjects[h] = subj
	s.subjMu.Unlock()
	return subj, nil
}

// Blob returns the content of a stored blob.
func (s *Store) Blob(h v1.Hash) ([]byte, error) {
	return s.path.Bytes(h)
}

// ImageIndex returns the stored image index with digest h.
func (s *Store) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	ii, err := s.path.ImageIndex()
	if err != nil {
		return nil, err
	}
	return ii.ImageIndex(h)
}

// writeFileAtomic writes name in the layout dir via a temp file, fsync and rename.
func (s *Store) writeFileAtomic(name string, data []byte) error {
	f, err := s.tempFile()
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(s.dir, name)); err != nil {
		return err
	}
	return syncDir(s.dir)
}

func (s *Store) tempFile() (*os.File, error) {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return os.OpenFile(filepath.Join(s.dir, tmpDirName, fmt.Sprintf("%d-%d", os.Getpid(), n)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
