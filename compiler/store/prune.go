package store

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Prune removes from index.json every entry of the specs for which keep
// returns false: their images, under every ref, and their artifacts. It
// returns the records of the images it removed, ordered by spec ref. With
// dryRun it changes nothing and returns what it would remove. The blobs
// stay until GC; referrers whose subject is gone are unreachable then.
func (s *Store) Prune(ctx context.Context, keep func(specRef string) bool, dryRun bool) ([]Record, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("store: prune: %w", err)
	}
	var gone []Record
	for _, r := range s.Records() {
		if !keep(r.SpecRef) {
			gone = append(gone, r)
		}
	}
	if dryRun || len(gone) == 0 {
		return gone, nil
	}
	if err := s.writable(); err != nil {
		return nil, fmt.Errorf("store: prune: %w", err)
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("store: prune: %w", ErrClosed)
	}
	kept := s.manifest.Manifests[:0:0]
	for _, d := range s.manifest.Manifests {
		if !pruned(d, keep) {
			kept = append(kept, d)
		}
	}
	s.manifest.Manifests = kept
	s.gen++
	my := s.gen
	s.mu.Unlock()
	if err := s.commit(my); err != nil {
		return nil, fmt.Errorf("store: prune: %w", err)
	}
	return gone, nil
}

// pruned reports whether Prune removes the index.json entry d: an image or
// artifact of a spec (or one rejected by a post-build check) that keep
// returns false for.
func pruned(d v1.Descriptor, keep func(specRef string) bool) bool {
	if spec := d.Annotations[AnnotationSpecRef]; spec != "" && !keep(spec) {
		return true
	}
	spec := d.Annotations[AnnotationRejected]
	return spec != "" && !keep(spec)
}
