package publish

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
)

// Media types and annotations of cosign's tag form, as cosign writes and
// reads them (sigstore/cosign pkg/oci/static, cmd/cosign/cli/attest).
const (
	// MediaTypeDSSE is a layer holding one DSSE envelope (an attestation).
	MediaTypeDSSE types.MediaType = "application/vnd.dsse.envelope.v1+json"
	// MediaTypeSimpleSigning is a layer holding a cosign simple-signing payload.
	MediaTypeSimpleSigning types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationSignature holds the base64 signature of a simple-signing
	// layer; cosign sets it, empty, on attestation layers too.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// AnnotationPredicateType names the in-toto predicate type of a DSSE layer.
	AnnotationPredicateType = "predicateType"
	// annotationInTotoPredicateType is the same, as Docker and BuildKit name it.
	annotationInTotoPredicateType = "in-toto.io/predicate-type"

	// mediaTypeInToto is the DSSE payload type of in-toto statements; some
	// tools use it as the layer media type too.
	mediaTypeInToto types.MediaType = "application/vnd.in-toto+json"
)

// CosignTag is the tag under which cosign looks for the signatures (suffix
// "sig") or attestations (suffix "att") of the manifest with digest d.
func CosignTag(d v1.Hash, suffix string) string {
	return fmt.Sprintf("%s-%s.%s", d.Algorithm, d.Hex, suffix)
}

// cosignSet is what cosign's tag form holds for one subject digest.
type cosignSet struct {
	subject      v1.Hash
	attestations []cosignLayer
	signatures   []cosignLayer
}

type cosignLayer struct {
	payload     []byte
	annotations map[string]string
}

// cosignSets sorts the layers of the referrers by subject into the
// attestations and signatures cosign reads. Layers of other kinds (SBOM
// documents stored plainly, bundles) have no cosign tag form and are left to
// the referrers API.
func cosignSets(refs []Referrer) ([]cosignSet, error) {
	bySubject := map[v1.Hash]*cosignSet{}
	seen := map[v1.Hash]map[v1.Hash]bool{}
	for _, r := range refs {
		m, err := r.Artifact.Manifest()
		if err != nil {
			return nil, err
		}
		set, ok := bySubject[r.Subject.Digest]
		if !ok {
			set = &cosignSet{subject: r.Subject.Digest}
			bySubject[r.Subject.Digest] = set
			seen[r.Subject.Digest] = map[v1.Hash]bool{}
		}
		for _, l := range m.Layers {
			if seen[r.Subject.Digest][l.Digest] {
				continue
			}
			switch l.MediaType {
			case MediaTypeDSSE, mediaTypeInToto, MediaTypeSimpleSigning:
			default:
				continue
			}
			b, err := readBlob(r.Artifact, l.Digest)
			if err != nil {
				return nil, fmt.Errorf("referrer of %s: layer %s: %w", r.Subject.Digest, l.Digest, err)
			}
			seen[r.Subject.Digest][l.Digest] = true
			if l.MediaType == MediaTypeSimpleSigning {
				// The signature annotation is on the layer, as cosign puts
				// it, or on the artifact manifest.
				sig := cmp.Or(l.Annotations[AnnotationSignature], m.Annotations[AnnotationSignature])
				if sig == "" {
					return nil, fmt.Errorf("referrer of %s: simple-signing layer %s has no %s annotation", r.Subject.Digest, l.Digest, AnnotationSignature)
				}
				set.signatures = append(set.signatures, cosignLayer{payload: b, annotations: map[string]string{AnnotationSignature: sig}})
				continue
			}
			pt := cmp.Or(l.Annotations[AnnotationPredicateType], l.Annotations[annotationInTotoPredicateType],
				m.Annotations[AnnotationPredicateType], m.Annotations[annotationInTotoPredicateType])
			if pt == "" {
				pt, err = envelopePredicateType(b)
				if err != nil {
					// Not a DSSE envelope around an in-toto statement.
					continue
				}
			}
			set.attestations = append(set.attestations, cosignLayer{payload: b, annotations: map[string]string{
				AnnotationPredicateType: pt,
				AnnotationSignature:     "",
			}})
		}
	}
	sets := make([]cosignSet, 0, len(bySubject))
	for _, s := range bySubject {
		if len(s.attestations)+len(s.signatures) == 0 {
			continue
		}
		sortLayers(s.attestations)
		sortLayers(s.signatures)
		sets = append(sets, *s)
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].subject.String() < sets[j].subject.String() })
	return sets, nil
}

// sortLayers orders layers by predicate type, then payload, so that the
// same attestations always make the same manifest digest.
func sortLayers(ls []cosignLayer) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i].annotations[AnnotationPredicateType], ls[j].annotations[AnnotationPredicateType]
		if a != b {
			return a < b
		}
		return string(ls[i].payload) < string(ls[j].payload)
	})
}

// cosignImage builds the image cosign stores under a .sig or .att tag: an
// empty OCI image whose layers are the payloads, annotated as cosign does
// (sigstore/cosign pkg/oci/empty and pkg/oci/mutate).
func cosignImage(layers []cosignLayer, mt types.MediaType) (v1.Image, error) {
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: static.NewLayer(l.payload, mt), Annotations: l.annotations})
	}
	return mutate.Append(base, adds...)
}

// envelopePredicateType returns the predicateType of the in-toto statement
// inside a DSSE envelope.
func envelopePredicateType(b []byte) (string, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return "", err
	}
	if env.PayloadType != string(mediaTypeInToto) {
		return "", fmt.Errorf("DSSE payload type %q is not %s", env.PayloadType, mediaTypeInToto)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return "", fmt.Errorf("DSSE payload: %w", err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return "", fmt.Errorf("in-toto statement: %w", err)
	}
	if st.PredicateType == "" {
		return "", fmt.Errorf("in-toto statement has no predicateType")
	}
	return st.PredicateType, nil
}

// readBlob reads layer d of img, checked against its digest.
func readBlob(img v1.Image, d v1.Hash) ([]byte, error) {
	l, err := img.LayerByDigest(d)
	if err != nil {
		return nil, err
	}
	return attest.ReadLayer(l)
}
