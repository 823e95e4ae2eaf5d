package sign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// CosignSignatureAnnotation is the layer annotation of the cosign `.sig`
// image that holds the base64 signature of the layer's payload.
const CosignSignatureAnnotation = "dev.cosignproject.cosign/signature"

// SimpleSigningMediaType is the media type of the payload layer of a cosign
// `.sig` image.
const SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"

// simpleSigning is cosign's "simple signing" payload. Field order and the
// explicit null of optional are cosign's own output, kept byte for byte.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

const simpleSigningType = "cosign container image signature"

// SimpleSigningPayload returns the cosign simple signing payload naming repo
// (a repository without tag or digest, "registry.example/nginx") and the
// image manifest digest:
//
//	{"critical":{"identity":{"docker-reference":"REPO"},"image":{"docker-manifest-digest":"sha256:..."},"type":"cosign container image signature"},"optional":null}
func SimpleSigningPayload(repo string, digest v1.Hash) []byte {
	var p simpleSigning
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = digest.String()
	p.Critical.Type = simpleSigningType
	b, err := json.Marshal(p)
	if err != nil {
		// Only strings and a nil map: marshalling cannot fail.
		panic(fmt.Sprintf("marshal simple signing payload: %v", err))
	}
	return b
}

// ParseSimpleSigningPayload decodes a simple signing payload and returns the
// repository and digest it names.
func ParseSimpleSigningPayload(payload []byte) (repo string, digest v1.Hash, err error) {
	var p simpleSigning
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", v1.Hash{}, fmt.Errorf("parse simple signing payload: %w", err)
	}
	if p.Critical.Type != simpleSigningType {
		return "", v1.Hash{}, fmt.Errorf("parse simple signing payload: type is %q, want %q", p.Critical.Type, simpleSigningType)
	}
	h, err := v1.NewHash(p.Critical.Image.DockerManifestDigest)
	if err != nil {
		return "", v1.Hash{}, fmt.Errorf("parse simple signing payload: %w", err)
	}
	return p.Critical.Identity.DockerReference, h, nil
}

// SignBlob signs payload as it is (ECDSA over its SHA-256) and returns the
// signature in standard base64, the form of CosignSignatureAnnotation.
func SignBlob(ctx context.Context, s Signer, payload []byte) (string, error) {
	if s == nil {
		return "", errors.New("sign blob: no signer")
	}
	sig, err := s.Sign(ctx, payload)
	if err != nil {
		return "", fmt.Errorf("sign blob: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyBlob checks a base64 signature made by SignBlob. The error wraps
// ErrBadSignature when the signature does not verify.
func VerifyBlob(ctx context.Context, v *Verifier, payload []byte, b64sig string) error {
	sig, err := base64.StdEncoding.DecodeString(b64sig)
	if err != nil {
		return fmt.Errorf("verify blob: %w: signature is not base64: %v", ErrBadSignature, err)
	}
	if err := v.Verify(ctx, payload, sig); err != nil {
		return fmt.Errorf("verify blob with key %s: %w", v.KeyID(), err)
	}
	return nil
}
