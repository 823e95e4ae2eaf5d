package store

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Annotations of a rejected image's index.json entries.
const (
	// AnnotationRejected names the spec ref of an image that failed a
	// post-build check. Such entries carry no ref name, spec ref or input
	// digest: no tag, lookup or cache check ever finds them.
	AnnotationRejected = "dev.hic.rejected.spec.ref"
	// AnnotationRejectedReason says which checks failed.
	AnnotationRejectedReason = "dev.hic.rejected.reason"
)

// PutRejected stores an image that failed a post-build check, for operators
// to inspect, without touching the spec's good image: its blobs are written,
// then one untagged index.json entry for idx (annotated with
// AnnotationRejected and the reason) and one per referrer replace the spec's
// previous rejected entries. The spec's tagged entries stay as they are; the
// next good Put of the spec removes the rejected ones. It returns the
// descriptor of idx.
func (s *Store) PutRejected(ctx context.Context, specRef, reason string, idx v1.ImageIndex, referrers ...Referrer) (v1.Descriptor, error) {
	if specRef == "" {
		return v1.Descriptor{}, errors.New("store: put rejected: empty spec ref")
	}
	if err := errors.Join(s.usable(ctx), s.writable()); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", specRef, err)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	desc, err := s.writeIndex(ctx, idx)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", specRef, err)
	}
	ann := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range extra {
			m[k] = v
		}
		m[AnnotationRejected] = specRef
		m[AnnotationRejectedReason] = reason
		return m
	}
	entries := []v1.Descriptor{{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Annotations: ann(nil)}}
	for _, r := range referrers {
		d, err := s.writeReferrer(r)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("%s: store: %w", specRef, err)
		}
		d.Annotations = ann(r.Annotations)
		entries = append(entries, d)
	}
	drop := func(d v1.Descriptor) bool { return d.Annotations[AnnotationRejected] == specRef }
	if err := s.swap(ctx, drop, entries); err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: store: %w", specRef, err)
	}
	return desc, nil
}

// Rejected returns the descriptor of the rejected image stored for specRef.
func (s *Store) Rejected(specRef string) (v1.Descriptor, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.manifest.Manifests {
		if d.Annotations[AnnotationRejected] == specRef && isIndex(d.MediaType) {
			return d, true
		}
	}
	return v1.Descriptor{}, false
}
