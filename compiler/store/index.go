package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/fsutil"
)

// Put writes idx and referrers (all their blobs first), then atomically
// replaces the index.json entries of e.SpecRef (any entry holding one of
// e.Refs, and the spec's rejected image, see PutRejected) with the new ones. If ctx is cancelled before the swap, index.json is
// left as it was. It returns the descriptor of idx.
func (s *Store) Put(ctx context.Context, e Entry, idx v1.ImageIndex, referrers ...Referrer) (v1.Descriptor, error) {
	if e.SpecRef == "" {
		return v1.Descriptor{}, errors.New("store: put: empty spec ref")
	}
	if err := errors.Join(s.usable(ctx), s.writable()); err != nil {
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
	entries := entriesFor(e, desc)
	refs := map[string]bool{}
	for _, r := range e.Refs {
		refs[r] = true
	}
	drop := func(d v1.Descriptor) bool {
		return d.Annotations[AnnotationSpecRef] == e.SpecRef || refs[d.Annotations[AnnotationRefName]] || d.Annotations[AnnotationRejected] == e.SpecRef
	}
	if err := s.swap(ctx, drop, append(entries, arts...)); err != nil {
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

// commit writes index.json if no later write already covered generation my:
// a Put that swapped in its entries while another write was in flight waits
// for it, and the first such Put then writes the generation of the moment,
// so all the Puts that arrived meanwhile share one write
// (TestConcurrentPutsShareOneWrite).
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
	write := s.writeIndexJSON
	if write == nil {
		write = func(path string, b []byte) error { return fsutil.WriteFileAtomic(path, b, 0o644) }
	}
	if err := write(filepath.Join(s.dir, indexName), b); err != nil {
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

// swap makes the blobs written so far durable and, unless ctx is done or
// the store closed, replaces the index.json entries drop selects by add in
// one atomic write: the one index swap of Put and PutRejected.
func (s *Store) swap(ctx context.Context, drop func(v1.Descriptor) bool, add []v1.Descriptor) error {
	if err := fsutil.SyncDir(filepath.Join(s.dir, "blobs", "sha256")); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	kept := make([]v1.Descriptor, 0, len(s.manifest.Manifests)+len(add))
	for _, d := range s.manifest.Manifests {
		if !drop(d) {
			kept = append(kept, d)
		}
	}
	kept = append(kept, add...)
	sortEntries(kept)
	s.manifest.Manifests = kept
	s.gen++
	my := s.gen
	s.mu.Unlock()
	return s.commit(my)
}
