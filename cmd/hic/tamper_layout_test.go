package main

// Tamper suite: attacks on the OCI image layout hic build wrote (blobs,
// index.json entries, referrers), detected by hic verify.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
)

func init() { tamperRegister("layout", tamperLayoutCases) }

func tamperLayoutCases() []tamperCase {
	verify := func(ref string) func(t *testing.T, e *tamperEnv) tamperRun {
		return func(t *testing.T, e *tamperEnv) tamperRun { return e.Verify(t, ref) }
	}
	return []tamperCase{
		{
			Name: "layout: tag moved to another spec's image",
			Attack: func(t *testing.T, e *tamperEnv) {
				alpine := e.Digest(tamperAlpine)
				var size int64
				tamperEditIndex(t, e, func(im *v1.IndexManifest) {
					for _, d := range im.Manifests {
						if d.Digest.String() == alpine {
							size = d.Size
						}
					}
					for i, d := range im.Manifests {
						if d.Annotations[store.AnnotationRefName] == "app:latest" {
							im.Manifests[i].Digest, im.Manifests[i].Size = tamperHash(t, alpine), size
						}
					}
				})
			},
			Detect:   verify("app:latest"),
			Want:     []string{"FAIL", "tag", "app:latest", tamperAlpine},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: one byte of an attestation envelope flipped",
			Attack: func(t *testing.T, e *tamperEnv) {
				r := tamperReferrer(t, e, tamperWolfi, attest.PredicateHardening)
				tamperFlipBlob(t, e, r.Envelope.Digest)
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "attestation-signatures", "referrer sha256:"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: image signatures dropped from index.json",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperEditIndex(t, e, func(im *v1.IndexManifest) {
					var kept []v1.Descriptor
					for _, d := range im.Manifests {
						if d.ArtifactType != attest.SignatureArtifactType {
							kept = append(kept, d)
						}
					}
					im.Manifests = kept
				})
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "image-signature", "no valid signature"},
			Tampered: []string{tamperWolfi, tamperAlpine},
		},
		{
			Name: "layout: another image's hardening attestation attached",
			Attack: func(t *testing.T, e *tamperEnv) {
				// The alpine image's hardening referrer, re-pointed at the
				// wolfi index: its signed statement is about the alpine image.
				r := tamperReferrer(t, e, tamperAlpine, attest.PredicateHardening)
				var m v1.Manifest
				tamperReadJSON(t, e, r.Manifest.Digest, &m)
				idx := tamperHash(t, e.Digest(tamperWolfi))
				m.Subject.Digest = idx
				m.Subject.Size = tamperBlobSize(t, e, idx)
				d := tamperWriteJSON(t, e, m)
				d.MediaType, d.ArtifactType = r.Manifest.MediaType, r.Manifest.ArtifactType
				d.Annotations = map[string]string{attest.AnnotationSubject: idx.String(), store.AnnotationSpecRef: tamperWolfi}
				tamperEditIndex(t, e, func(im *v1.IndexManifest) { im.Manifests = append(im.Manifests, d) })
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "attestation-subjects", "hardening statement attached to index"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: hardening attestation re-signed by another key",
			Attack: func(t *testing.T, e *tamperEnv) {
				r := tamperReferrer(t, e, tamperWolfi, attest.PredicateHardening)
				env, err := attest.ReadEnvelope(tamperLayout(e), r)
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(e.Dir, "attacker")
				if r := e.Hic(t, nil, "keygen", "--out", dir); r.Code != 0 {
					t.Fatal(r)
				}
				s, err := sign.LoadSigner(filepath.Join(dir, sign.PrivateKeyFile))
				if err != nil {
					t.Fatal(err)
				}
				forged := attResign(t, s, attPayload(t, env))
				tamperReplaceBlob(t, e, r.Envelope.Digest, forged, r.Manifest.Digest)
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "attestation-signatures"},
			Tampered: []string{tamperWolfi},
		},
	}
}

// ---- layout helpers for attacks ----

func tamperLayout(e *tamperEnv) layout.Path { return layout.Path(e.OCI()) }

func tamperHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func tamperBlobPath(e *tamperEnv, h v1.Hash) string {
	return filepath.Join(e.OCI(), "blobs", h.Algorithm, h.Hex)
}

func tamperBlobSize(t *testing.T, e *tamperEnv, h v1.Hash) int64 {
	t.Helper()
	fi, err := os.Stat(tamperBlobPath(e, h))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// tamperFlipBlob flips one bit in the middle of a blob, in place.
func tamperFlipBlob(t *testing.T, e *tamperEnv, h v1.Hash) {
	t.Helper()
	p := tamperBlobPath(e, h)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperEditIndex rewrites the layout's index.json.
func tamperEditIndex(t *testing.T, e *tamperEnv, edit func(*v1.IndexManifest)) {
	t.Helper()
	p := filepath.Join(e.OCI(), "index.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	edit(&im)
	nb, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nb, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tamperReadJSON(t *testing.T, e *tamperEnv, h v1.Hash, v any) {
	t.Helper()
	b, err := os.ReadFile(tamperBlobPath(e, h))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("blob %s: %v", h, err)
	}
}

// tamperWriteBlob stores b as a new, correctly named blob.
func tamperWriteBlob(t *testing.T, e *tamperEnv, b []byte) v1.Descriptor {
	t.Helper()
	h, n, err := v1.SHA256(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tamperBlobPath(e, h), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{Digest: h, Size: n}
}

func tamperWriteJSON(t *testing.T, e *tamperEnv, v any) v1.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return tamperWriteBlob(t, e, b)
}

// tamperReferrer returns the one referrer of predicateType attached to the
// index of spec in the good build.
func tamperReferrer(t *testing.T, e *tamperEnv, spec, predicateType string) attest.Referrer {
	t.Helper()
	refs, err := attest.Referrers(t.Context(), tamperLayout(e), tamperHash(t, e.Digest(spec)), predicateType)
	if err != nil || len(refs) != 1 {
		t.Fatalf("%s referrers of %s: %v %v", predicateType, spec, refs, err)
	}
	return refs[0]
}

// tamperReplaceBlob is the thorough attacker's rewrite: blob old (a layer of
// the referrer manifest man) is replaced by data under its own digest, the
// manifest is rewritten to name it, and index.json's entry follows.
func tamperReplaceBlob(t *testing.T, e *tamperEnv, old v1.Hash, data []byte, man v1.Hash) {
	t.Helper()
	nd := tamperWriteBlob(t, e, data)
	var m v1.Manifest
	tamperReadJSON(t, e, man, &m)
	for i, l := range m.Layers {
		if l.Digest == old {
			m.Layers[i].Digest, m.Layers[i].Size = nd.Digest, nd.Size
		}
	}
	md := tamperWriteJSON(t, e, m)
	tamperEditIndex(t, e, func(im *v1.IndexManifest) {
		for i, d := range im.Manifests {
			if d.Digest == man {
				im.Manifests[i].Digest, im.Manifests[i].Size = md.Digest, md.Size
			}
		}
	})
}
