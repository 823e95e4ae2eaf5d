package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hic-build/hic/compiler/sign"
)

// SignatureArtifactType is the artifactType of image signature referrers,
// as cosign writes them.
const SignatureArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"

// ImageSignature is a cosign signature of one image: the simple signing
// payload naming the image and its signature.
type ImageSignature struct {
	// Subject is the signed image.
	Subject Subject
	// Payload is sign.SimpleSigningPayload(repository, Subject.Digest).
	Payload []byte
	// Signature is the base64 signature of Payload (the value of the
	// dev.cosignproject.cosign/signature annotation).
	Signature string
}

// SignImages signs the simple signing payload of each subject, naming
// repository as its docker-reference. cosign checks the digest of the
// payload against the image, not the docker-reference, so the catalog's
// repository name ("nginx") serves before the image has a registry.
func SignImages(ctx context.Context, s sign.Signer, repository string, subjects ...Subject) ([]ImageSignature, error) {
	if s == nil {
		return nil, errors.New("sign images: no signer")
	}
	out := make([]ImageSignature, 0, len(subjects))
	for _, sub := range subjects {
		payload := sign.SimpleSigningPayload(repository, sub.Digest)
		b64, err := sign.SignBlob(ctx, s, payload)
		if err != nil {
			return nil, fmt.Errorf("sign %s@%s: %w", repository, sub.Digest, err)
		}
		out = append(out, ImageSignature{Subject: sub, Payload: payload, Signature: b64})
	}
	return out, nil
}

// SignatureManifest is the manifest of SignatureReferrer(sig), decoded.
func SignatureManifest(sig ImageSignature) (*v1.Manifest, error) {
	r, err := SignatureReferrer(sig)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(r.Manifest, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Signatures reads back the signatures stored in the layout at p for the
// image with the given digest, sorted by payload and signature. Blobs are
// checked against their digests; signatures are not verified (see
// VerifySignature).
func Signatures(ctx context.Context, p layout.Path, digest v1.Hash) ([]ImageSignature, error) {
	entries, err := indexEntries(p)
	if err != nil {
		return nil, err
	}
	return SignaturesListed(ctx, p, entries, digest)
}

// SignaturesListed is Signatures among entries, the layout's index.json
// entries as the caller read them.
func SignaturesListed(ctx context.Context, p layout.Path, entries []v1.Descriptor, digest v1.Hash) ([]ImageSignature, error) {
	found, err := scanReferrers(ctx, p, entries, digest, SignatureArtifactType, sign.SimpleSigningMediaType)
	if err != nil {
		return nil, err
	}
	var out []ImageSignature
	for _, f := range found {
		payload, err := readVerified(p, f.layer.Digest)
		if err != nil {
			return nil, fmt.Errorf("layout %s: signature of %s: %w", p, digest, err)
		}
		name, _, _ := sign.ParseSimpleSigningPayload(payload)
		out = append(out, ImageSignature{
			Subject: Subject{
				Name:      name,
				Digest:    f.subject.Digest,
				MediaType: f.subject.MediaType,
				Size:      f.subject.Size,
			},
			Payload:   payload,
			Signature: f.layer.Annotations[sign.CosignSignatureAnnotation],
		})
	}
	slices.SortFunc(out, func(a, b ImageSignature) int {
		return cmpJoin(strings.Compare(string(a.Payload), string(b.Payload)), strings.Compare(a.Signature, b.Signature))
	})
	return out, nil
}

// SignaturesIn reads the signatures of subject that a cosign signature
// image holds (its sha256-<hex>.sig tag or a signature referrer, as a
// registry serves it): its simple-signing layers, each checked against its
// digest. Signatures are not verified (see VerifySignature).
func SignaturesIn(img v1.Image, subject v1.Hash) ([]ImageSignature, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []ImageSignature
	for _, l := range m.Layers {
		if l.MediaType != sign.SimpleSigningMediaType {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		b, err := ReadLayer(layer)
		if err != nil {
			return nil, err
		}
		out = append(out, ImageSignature{Subject: Subject{Digest: subject}, Payload: b, Signature: l.Annotations[sign.CosignSignatureAnnotation]})
	}
	return out, nil
}

// VerifySignature checks that sig is a valid signature by v of a payload
// naming the image digest, as cosign verify does. The error wraps
// sign.ErrBadSignature when the signature does not verify.
func VerifySignature(ctx context.Context, v *sign.Verifier, sig ImageSignature, digest v1.Hash) error {
	if err := sign.VerifyBlob(ctx, v, sig.Payload, sig.Signature); err != nil {
		return err
	}
	_, got, err := sign.ParseSimpleSigningPayload(sig.Payload)
	if err != nil {
		return err
	}
	if got != digest {
		return fmt.Errorf("signature payload names %s, want %s", got, digest)
	}
	return nil
}
