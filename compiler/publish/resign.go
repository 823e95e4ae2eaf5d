package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
)

// destinationSignatures replaces the image signatures among img's
// referrers with new ones by s whose identity (the simple signing payload's
// docker-reference) is repo, the repository the image is pushed to, for the
// index and each of its platform manifests. The layout's signatures name the
// catalog repository ("nginx", which policy engines read as
// docker.io/library/nginx); the containers/image policy engine (podman,
// CRI-O, skopeo) with signedIdentity matchRepository accepts only a
// signature naming the repository it pulls from.
func destinationSignatures(ctx context.Context, s sign.Signer, repo string, img Image) ([]Referrer, error) {
	var out []Referrer
	for _, r := range img.Referrers {
		m, err := r.Artifact.Manifest()
		if err != nil {
			return nil, err
		}
		if !isSignature(m) {
			out = append(out, r)
		}
	}
	im, err := img.Index.IndexManifest()
	if err != nil {
		return nil, err
	}
	raw, err := img.Index.RawManifest()
	if err != nil {
		return nil, err
	}
	mt, err := img.Index.MediaType()
	if err != nil {
		return nil, err
	}
	idxDigest, idxSize, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	subjects := []attest.Subject{{Name: repo, Digest: idxDigest, MediaType: mt, Size: idxSize}}
	for _, d := range im.Manifests {
		subjects = append(subjects, attest.Subject{Name: repo, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size})
	}
	sigs, err := attest.SignImages(ctx, s, repo, subjects...)
	if err != nil {
		return nil, err
	}
	for _, sig := range sigs {
		m, err := attest.SignatureManifest(sig)
		if err != nil {
			return nil, err
		}
		art, err := newMemArtifact(m, sig.Payload)
		if err != nil {
			return nil, err
		}
		out = append(out, Referrer{Subject: sig.Subject.Descriptor(), Artifact: art})
	}
	return out, nil
}

// isSignature reports whether a referrer manifest holds a cosign simple
// signing payload (whatever its artifactType says).
func isSignature(m *v1.Manifest) bool {
	if m.ArtifactType == attest.SignatureArtifactType || m.Config.MediaType == attest.SignatureArtifactType {
		return true
	}
	for _, l := range m.Layers {
		if l.MediaType == MediaTypeSimpleSigning {
			return true
		}
	}
	return false
}

// memArtifact is a referrer manifest held in memory with its one layer;
// its config is inline (the OCI empty descriptor carries its data).
type memArtifact struct {
	raw   []byte
	m     *v1.Manifest
	layer []byte
}

var _ partial.CompressedImageCore = (*memArtifact)(nil)

func newMemArtifact(m *v1.Manifest, layer []byte) (v1.Image, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != 1 || m.Config.Data == nil {
		return nil, fmt.Errorf("artifact manifest: want one layer and an inline config")
	}
	return partial.CompressedToImage(&memArtifact{raw: raw, m: m, layer: layer})
}

func (a *memArtifact) MediaType() (types.MediaType, error) { return a.m.MediaType, nil }
func (a *memArtifact) RawManifest() ([]byte, error)        { return a.raw, nil }
func (a *memArtifact) RawConfigFile() ([]byte, error)      { return a.m.Config.Data, nil }

func (a *memArtifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	switch h {
	case a.m.Config.Digest:
		return &memBlob{desc: a.m.Config, data: a.m.Config.Data}, nil
	case a.m.Layers[0].Digest:
		return &memBlob{desc: a.m.Layers[0], data: a.layer}, nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

type memBlob struct {
	desc v1.Descriptor
	data []byte
}

func (b *memBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *memBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *memBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *memBlob) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b.data)), nil
}
