package publish

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/attest"
)

// withdrawSuperseded deletes from repo the attestation referrers of the
// subjects refs are about that have the predicate type of an attestation
// pushed now but are not among those pushed: attestations the build has
// replaced (an advisory changed, and the VEX document with it; a key was
// rotated). Left in place, an old signed document stands beside the new
// one among the referrers, contradicting it, as cosign attest --replace
// avoids for its .att tag. A registry that refuses the delete keeps it:
// kept counts those (hic verify fails an image whose VEX documents
// disagree, naming both).
func withdrawSuperseded(repo name.Repository, refs []Referrer, opts []remote.Option) (withdrawn, kept int, err error) {
	pushed := map[v1.Hash]map[string]map[v1.Hash]bool{} // subject -> predicate type -> referrer digests
	var order []v1.Hash
	for _, r := range refs {
		mf, err := r.Artifact.Manifest()
		if err != nil {
			return 0, 0, err
		}
		if mf.ArtifactType != attest.ArtifactType {
			continue
		}
		d, err := r.Artifact.Digest()
		if err != nil {
			return 0, 0, err
		}
		pt := mf.Annotations[attest.AnnotationPredicateType]
		if pt == "" {
			continue
		}
		types, ok := pushed[r.Subject.Digest]
		if !ok {
			types = map[string]map[v1.Hash]bool{}
			pushed[r.Subject.Digest] = types
			order = append(order, r.Subject.Digest)
		}
		if types[pt] == nil {
			types[pt] = map[v1.Hash]bool{}
		}
		types[pt][d] = true
	}
	for _, subject := range order {
		idx, err := remote.Referrers(repo.Digest(subject.String()), opts...)
		if err != nil {
			return withdrawn, kept, fmt.Errorf("referrers of %s: %w", subject, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return withdrawn, kept, fmt.Errorf("referrers of %s: %w", subject, err)
		}
		types := pushed[subject]
		for _, d := range im.Manifests {
			if d.ArtifactType != attest.ArtifactType {
				continue
			}
			pt := d.Annotations[attest.AnnotationPredicateType]
			now, ok := types[pt]
			if pt == "" || !ok || now[d.Digest] {
				continue
			}
			if err := remote.Delete(repo.Digest(d.Digest.String()), opts...); err != nil {
				kept++
				continue
			}
			withdrawn++
		}
	}
	return withdrawn, kept, nil
}
