package publish_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/publish"
)

// The signing here stands in for compiler/sign: ECDSA P-256 over SHA-256,
// DSSE pre-authentication encoding for envelopes, plain payload bytes for
// cosign simple signing.

const (
	slsaProvenanceV1 = "https://slsa.dev/provenance/v1"
	inTotoPayload    = "application/vnd.in-toto+json"
)

type key struct {
	priv *ecdsa.PrivateKey
}

func newKey(t testing.TB) key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key{k}
}

// writePublic writes the PKIX PEM public key cosign reads with --key.
func (k key) writePublic(t testing.TB, dir string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("pub-%p.pem", k.priv))
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (k key) sign(t testing.TB, msg []byte) []byte {
	t.Helper()
	h := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func pae(payloadType string, payload []byte) []byte {
	return []byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload))
}

// provenance returns a signed DSSE envelope around a SLSA provenance v1
// statement whose subject is digest.
func (k key) provenance(t testing.TB, repo string, digest v1.Hash) []byte {
	t.Helper()
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": repo, "digest": map[string]string{"sha256": digest.Hex}}},
		"predicateType": slsaProvenanceV1,
		"predicate": map[string]any{
			"buildDefinition": map[string]any{
				"buildType":          "https://hic.dev/build/v1",
				"externalParameters": map[string]any{"spec": repo},
			},
			"runDetails": map[string]any{"builder": map[string]any{"id": "https://hic.dev/hic"}},
		},
	}
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]any{
		"payloadType": inTotoPayload,
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []any{map[string]string{"keyid": "", "sig": base64.StdEncoding.EncodeToString(k.sign(t, pae(inTotoPayload, payload)))}},
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// simpleSigning returns a cosign simple-signing payload for digest and its
// base64 signature.
func (k key) simpleSigning(t testing.TB, repo string, digest v1.Hash) ([]byte, string) {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": repo},
			"image":    map[string]string{"docker-manifest-digest": digest.String()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload, base64.StdEncoding.EncodeToString(k.sign(t, payload))
}

// artifact makes an OCI 1.1 referrer: an image manifest with one layer and
// a subject, and annotations on the layer and on the manifest.
func artifact(t testing.TB, subject v1.Descriptor, artifactType types.MediaType, layer v1.Layer, layerAnn, manifestAnn map[string]string) v1.Image {
	t.Helper()
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, artifactType)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: layerAnn})
	if err != nil {
		t.Fatal(err)
	}
	if manifestAnn != nil {
		img = mutate.Annotations(img, manifestAnn).(v1.Image)
	}
	img = mutate.Subject(img, subject).(v1.Image)
	if m, err := img.Manifest(); err != nil || m.Subject == nil {
		t.Fatalf("artifact has no subject (%v)", err)
	}
	return img
}

// fixtureImage is one image of a test layout and what the test expects of it.
type fixtureImage struct {
	repo   string
	tags   []string
	index  v1.ImageIndex
	digest v1.Hash
	// referrers are the artifact digests attached to the index.
	referrers []v1.Hash
}

// writeLayout writes an OCI layout like compiler/store's: one random
// multi-platform index per repository, tagged twice, each with a signature
// and a SLSA provenance attestation as referrers of the index, and a
// provenance for its first platform manifest.
func writeLayout(t testing.TB, dir string, k key, repos ...string) []fixtureImage {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	var out []fixtureImage
	for i, repo := range repos {
		idx, err := random.Index(512, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		fi := fixtureImage{repo: repo, tags: []string{fmt.Sprintf("1.%d", i), "latest"}, index: idx, digest: d}
		for _, tag := range fi.tags {
			if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
				publish.AnnotationRefName:     repo + ":" + tag,
				publish.AnnotationSpecRef:     "catalog/" + repo,
				publish.AnnotationInputDigest: fmt.Sprintf("sha256:%064x", i+1),
			})); err != nil {
				t.Fatal(err)
			}
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: mustSize(t, idx)}
		payload, sig := k.simpleSigning(t, repo, d)
		arts := []v1.Image{
			// The signature annotated on the manifest, as compiler/store's
			// one-blob artifacts carry annotations (cosign puts it on the layer).
			artifact(t, subject, "application/vnd.dev.cosign.artifact.sig.v1+json",
				static.NewLayer(payload, publish.MediaTypeSimpleSigning), nil,
				map[string]string{publish.AnnotationSignature: sig}),
			artifact(t, subject, inTotoPayload,
				static.NewLayer(k.provenance(t, repo, d), publish.MediaTypeDSSE),
				map[string]string{publish.AnnotationPredicateType: slsaProvenanceV1}, nil),
		}
		for j, a := range arts {
			if err := p.AppendImage(a); err != nil {
				t.Fatal(err)
			}
			if j < 2 {
				ad, err := a.Digest()
				if err != nil {
					t.Fatal(err)
				}
				fi.referrers = append(fi.referrers, ad)
			}
		}
		// A platform manifest's provenance, written as compiler/attest does:
		// the OCI 1.1 empty config inline, artifactType, and the predicate
		// type only inside the envelope.
		writeRawReferrer(t, p, im.Manifests[0], k.provenance(t, repo, im.Manifests[0].Digest))
		out = append(out, fi)
	}
	return out
}

func writeRawReferrer(t testing.TB, p layout.Path, subject v1.Descriptor, envelope []byte) {
	t.Helper()
	emptyJSON := []byte("{}")
	put := func(b []byte) (v1.Hash, int64) {
		h, n, err := v1.SHA256(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(b))); err != nil {
			t.Fatal(err)
		}
		return h, n
	}
	cfg, cfgSize := put(emptyJSON)
	env, envSize := put(envelope)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  inTotoPayload,
		Config:        v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: cfg, Size: cfgSize, Data: emptyJSON},
		Layers:        []v1.Descriptor{{MediaType: publish.MediaTypeDSSE, Digest: env, Size: envSize}},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h, n := put(raw)
	if err := p.AppendDescriptor(v1.Descriptor{MediaType: types.OCIManifestSchema1, ArtifactType: inTotoPayload, Digest: h, Size: n}); err != nil {
		t.Fatal(err)
	}
}

func mustSize(t testing.TB, idx v1.ImageIndex) int64 {
	t.Helper()
	n, err := idx.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
