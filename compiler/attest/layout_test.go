package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
)

// testImage makes a random two-platform index and the attestation input
// describing it; putImage stores it.
func testImage(t *testing.T) (v1.ImageIndex, Image) {
	t.Helper()
	ii, err := random.Index(64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := ii.Digest()
	size, _ := ii.Size()
	mt, _ := ii.MediaType()
	im, _ := ii.IndexManifest()
	img := Image{Index: Subject{Name: "nginx", Digest: d, Size: size, MediaType: mt}, IndexSPDX: readSPDX(t)}
	for i, m := range im.Manifests {
		img.Platforms = append(img.Platforms, Platform{
			Platform: []string{"linux/amd64", "linux/arm64"}[i],
			Manifest: Subject{Name: "nginx", Digest: m.Digest, Size: m.Size, MediaType: m.MediaType},
			SPDX:     readSPDX(t),
			Packages: testPackages[i : i+1],
		})
	}
	return ii, img
}

// putImage stores ii with the referrers of atts and sigs in the layout at
// dir the way hic build does: AttestationReferrer, SignatureReferrer, one
// store.Put.
func putImage(t *testing.T, dir string, ii v1.ImageIndex, atts []Attestation, sigs []ImageSignature) layout.Path {
	t.Helper()
	var refs []store.Referrer
	for _, a := range atts {
		for _, s := range a.Subjects {
			r, err := AttestationReferrer(s, a.PredicateType, a.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, r)
		}
	}
	for _, sg := range sigs {
		r, err := SignatureReferrer(sg)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Put(context.Background(), store.Entry{SpecRef: "nginx:1.29-wolfi-runtime", Refs: []string{"nginx:1.29"}}, ii, refs...); err != nil {
		t.Fatal(err)
	}
	return layout.Path(dir)
}

func testSigner(t *testing.T) (sign.Signer, *sign.Verifier) {
	t.Helper()
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewVerifier(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestForImageAndLayoutRoundTrip(t *testing.T) {
	ctx := context.Background()
	ii, img := testImage(t)
	dir := t.TempDir()
	s, v := testSigner(t)
	prov := testProvenance(t)
	prov.Subjects, prov.Packages = nil, nil // filled from the image
	atts, err := ForImage(ctx, s, ImageInput{
		Image:      img,
		Provenance: prov,
		Hardening:  Hardening{Rules: []string{"nonroot"}},
		Tool:       Tool{Name: "hic", Version: "v0.1.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var gotTypes []string
	for _, a := range atts {
		gotTypes = append(gotTypes, a.PredicateType)
	}
	wantTypes := []string{PredicateSLSAProvenance, PredicateHardening,
		PredicateSPDX, PredicateCycloneDX, // index
		PredicateSPDX, PredicateCycloneDX, // linux/amd64
		PredicateSPDX, PredicateCycloneDX} // linux/arm64
	if diff := cmp.Diff(wantTypes, gotTypes); diff != "" {
		t.Fatalf("predicate types (-want +got):\n%s", diff)
	}
	// Provenance covers every package of every platform and all three images.
	prv, err := Open(ctx, v, atts[0].Envelope)
	if err != nil {
		t.Fatal(err)
	}
	all := []v1.Hash{img.Index.Digest, img.Platforms[0].Manifest.Digest, img.Platforms[1].Manifest.Digest}
	if diff := cmp.Diff(all, prv.SubjectDigests()); diff != "" {
		t.Errorf("provenance subjects (-want +got):\n%s", diff)
	}
	var pp ProvenancePredicate
	if err := json.Unmarshal(prv.Predicate, &pp); err != nil {
		t.Fatal(err)
	}
	if n := len(pp.BuildDefinition.ResolvedDependencies); n != 2 {
		t.Errorf("provenance has %d dependencies, want 2", n)
	}

	p := putImage(t, dir, ii, atts, nil)
	// provenance and hardening on 3 images, 2 SBOMs on each of 3 images
	n := 0
	for _, subject := range []v1.Hash{img.Index.Digest, img.Platforms[0].Manifest.Digest, img.Platforms[1].Manifest.Digest} {
		refs, err := Referrers(ctx, p, subject, "")
		if err != nil {
			t.Fatal(err)
		}
		n += len(refs)
	}
	if n != 12 {
		t.Errorf("stored %d attestation manifests, want 12", n)
	}
	indexJSON, _ := os.ReadFile(filepath.Join(string(p), "index.json"))

	// Idempotent: storing the same again changes nothing.
	putImage(t, dir, ii, atts, nil)
	again, _ := os.ReadFile(filepath.Join(string(p), "index.json"))
	if !bytes.Equal(indexJSON, again) {
		t.Error("second Put changed index.json")
	}

	for i, subject := range all {
		refs, err := Referrers(ctx, p, subject, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.PredicateType)
			if r.Subject != subject {
				t.Errorf("referrer %s has subject %s, want %s", r.Manifest.Digest, r.Subject, subject)
			}
			env, err := ReadEnvelope(p, r)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Open(ctx, v, env)
			if err != nil {
				t.Fatalf("Open %s of %s: %v", r.PredicateType, subject, err)
			}
			if st.PredicateType != r.PredicateType {
				t.Errorf("stored as %s, statement says %s", r.PredicateType, st.PredicateType)
			}
			if !slices.Contains(st.SubjectDigests(), subject) {
				t.Errorf("%s statement stored with %s does not name it: %v", st.PredicateType, subject, st.SubjectDigests())
			}
		}
		want := []string{PredicateCycloneDX, PredicateHardening, PredicateSLSAProvenance, PredicateSPDX}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("referrers of image %d (-want +got):\n%s", i, diff)
		}
	}

	// Filter by predicate type.
	refs, err := Referrers(ctx, p, img.Index.Digest, PredicateSLSAProvenance)
	if err != nil || len(refs) != 1 {
		t.Fatalf("Referrers(provenance) = %d, %v; want 1", len(refs), err)
	}

	// The referrer manifest has the OCI 1.1 shape.
	raw, err := p.Bytes(refs[0].Manifest.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.ArtifactType != "application/vnd.in-toto+json" ||
		m.Config.MediaType != "application/vnd.oci.empty.v1+json" || m.Config.Size != 2 ||
		m.Config.Digest.String() != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" ||
		len(m.Layers) != 1 || m.Layers[0].MediaType != "application/vnd.dsse.envelope.v1+json" ||
		m.Layers[0].Annotations["predicateType"] != PredicateSLSAProvenance ||
		m.Subject == nil || m.Subject.Digest != img.Index.Digest || m.Subject.MediaType != img.Index.MediaType ||
		m.Subject.Size != img.Index.Size {
		t.Errorf("referrer manifest has the wrong shape:\n%s", raw)
	}
	// The image itself is in the layout.
	root, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.ImageIndex(img.Index.Digest); err != nil {
		t.Errorf("image index no longer readable: %v", err)
	}

	// Another key does not open the envelope.
	_, other := testSigner(t)
	env, _ := ReadEnvelope(p, refs[0])
	if _, err := Open(ctx, other, env); !errors.Is(err, sign.ErrBadSignature) {
		t.Errorf("Open with another key: err = %v, want ErrBadSignature", err)
	}

	// A changed envelope blob is caught by its digest.
	blob := filepath.Join(string(p), "blobs", "sha256", refs[0].Envelope.Digest.Hex)
	if err := os.WriteFile(blob, append(env, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEnvelope(p, refs[0]); err == nil {
		t.Error("ReadEnvelope of a changed blob: want an error")
	}

	// No referrers for an unknown digest.
	if refs, err := Referrers(ctx, p, hash(t, '9'), ""); err != nil || len(refs) != 0 {
		t.Errorf("Referrers(unknown) = %v, %v; want none", refs, err)
	}
}

func TestUnsignedAndTampered(t *testing.T) {
	ctx := context.Background()
	_, img := testImage(t)
	_, v := testSigner(t)
	atts, err := ForImage(ctx, nil, ImageInput{Image: img, Provenance: testProvenance(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, v, atts[0].Envelope); !errors.Is(err, sign.ErrBadSignature) {
		t.Errorf("Open of an unsigned envelope: err = %v, want ErrBadSignature", err)
	}

	s, v := testSigner(t)
	atts, err = ForImage(ctx, s, ImageInput{Image: img, Provenance: testProvenance(t)})
	if err != nil {
		t.Fatal(err)
	}
	env, err := sign.ParseEnvelope(atts[0].Envelope)
	if err != nil {
		t.Fatal(err)
	}
	// Point the statement at another image, keep the signature.
	st, _ := ParseStatement(atts[0].Statement)
	st.Subject[0].Digest = map[string]string{"sha256": hash(t, '7').Hex}
	forged, _ := st.Marshal()
	env.Payload = encodeB64(forged)
	b, _ := json.Marshal(env)
	if _, err := Open(ctx, v, b); !errors.Is(err, sign.ErrBadSignature) {
		t.Errorf("Open of a re-pointed statement: err = %v, want ErrBadSignature", err)
	}
}

func TestReferrerNeedsFullSubject(t *testing.T) {
	if _, err := AttestationReferrer(Subject{Digest: hash(t, 'a')}, PredicateSPDX, []byte("{}")); err == nil {
		t.Error("AttestationReferrer without media type and size: want an error")
	}
	if _, err := SignatureReferrer(ImageSignature{Subject: Subject{Digest: hash(t, 'a')}}); err == nil {
		t.Error("SignatureReferrer without media type and size: want an error")
	}
}

func TestAttestationTitle(t *testing.T) {
	for pt, want := range map[string]string{
		PredicateSLSAProvenance:             "provenance.dsse.json",
		PredicateSPDX:                       "sbom.spdx.dsse.json",
		PredicateCycloneDX:                  "sbom.cdx.dsse.json",
		PredicateHardening:                  "hardening.dsse.json",
		"https://openvex.dev/ns/v0.2.0":     "openvex.dsse.json",
		"https://example.com/smoke-test/v1": "smoke-test.dsse.json",
		"https://example.com/a b/v1":        "a-b.dsse.json",
		"v1":                                "attestation.dsse.json",
	} {
		if got := AttestationTitle(pt); got != want {
			t.Errorf("AttestationTitle(%q) = %q, want %q", pt, got, want)
		}
	}
}
