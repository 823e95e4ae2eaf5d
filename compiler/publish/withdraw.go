package publish

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

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
		var gone []v1.Hash
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
			gone = append(gone, d.Digest)
			withdrawn++
		}
		if err := dropFromFallback(repo, subject, gone, opts); err != nil {
			return withdrawn, kept, fmt.Errorf("referrers tag of %s: %w", subject, err)
		}
	}
	return withdrawn, kept, nil
}

// dropFromFallback removes deleted referrers from the subject's referrers
// tag (sha256-HEX), the index a registry without the referrers API lists
// them in (OCI distribution spec, "referrers tag schema"): a delete does
// not touch it, and a referrer it still listed would be one that is gone.
// A registry with the API has no such tag, and nothing is done.
func dropFromFallback(repo name.Repository, subject v1.Hash, gone []v1.Hash, opts []remote.Option) error {
	if len(gone) == 0 {
		return nil
	}
	tag := repo.Tag(subject.Algorithm + "-" + subject.Hex)
	desc, err := remote.Get(tag, opts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if !desc.MediaType.IsIndex() {
		return nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return err
	}
	return remote.WriteIndex(tag, mutate.RemoveManifests(idx, match.Digests(gone...)), opts...)
}
