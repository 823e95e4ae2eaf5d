package attest

import (
	"fmt"

	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
)

// AttestationReferrer is the referrer that stores a signed envelope about
// subject (see the package doc: artifactType ArtifactType, the empty config,
// one layer, the envelope), built by store.NewArtifact like every referrer.
func AttestationReferrer(subject Subject, predicateType string, envelope []byte) (store.Referrer, error) {
	if err := complete(subject); err != nil {
		return store.Referrer{}, err
	}
	return store.NewArtifact(store.Artifact{
		ArtifactType: ArtifactType,
		Subject:      subject.Descriptor(),
		MediaType:    sign.EnvelopeMediaType,
		Data:         envelope,
		LayerAnnotations: map[string]string{
			AnnotationCosignPredicateType: predicateType,
			AnnotationPredicateType:       predicateType,
		},
		Title:       AttestationTitle(predicateType),
		Annotations: map[string]string{AnnotationPredicateType: predicateType},
		IndexAnnotations: map[string]string{
			AnnotationSubject:       subject.Digest.String(),
			AnnotationPredicateType: predicateType,
		},
	})
}

// SignatureReferrer is the referrer that stores an image signature:
// artifactType SignatureArtifactType, the empty config, and one layer, the
// simple signing payload annotated with the signature.
func SignatureReferrer(sig ImageSignature) (store.Referrer, error) {
	if err := complete(sig.Subject); err != nil {
		return store.Referrer{}, err
	}
	return store.NewArtifact(store.Artifact{
		ArtifactType:     SignatureArtifactType,
		Subject:          sig.Subject.Descriptor(),
		MediaType:        sign.SimpleSigningMediaType,
		Data:             sig.Payload,
		LayerAnnotations: map[string]string{sign.CosignSignatureAnnotation: sig.Signature},
		Title:            "signature.json",
		IndexAnnotations: map[string]string{AnnotationSubject: sig.Subject.Digest.String()},
	})
}

func complete(s Subject) error {
	if s.Digest.Hex == "" || s.MediaType == "" || s.Size <= 0 {
		return fmt.Errorf("referrer: subject descriptor %v is incomplete (digest, media type and size are required)", s.Digest)
	}
	return nil
}
