package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/sign"
)

func TestSignaturesInLayout(t *testing.T) {
	ctx := context.Background()
	ii, img := testImage(t)
	dir := t.TempDir()
	s, v := testSigner(t)
	subjects := []Subject{img.Index, img.Platforms[0].Manifest}
	sigs, err := SignImages(ctx, s, "nginx", subjects...)
	if err != nil {
		t.Fatal(err)
	}
	// Attestations next to them do not mix in.
	atts, err := ForImage(ctx, s, ImageInput{Image: img, Provenance: testProvenance(t)})
	if err != nil {
		t.Fatal(err)
	}
	p := putImage(t, dir, ii, atts, sigs)
	indexJSON, _ := os.ReadFile(filepath.Join(string(p), "index.json"))
	putImage(t, dir, ii, atts, sigs)
	if again, _ := os.ReadFile(filepath.Join(string(p), "index.json")); !bytes.Equal(indexJSON, again) {
		t.Error("second Put changed index.json")
	}

	for i, sub := range subjects {
		got, err := Signatures(ctx, p, sub.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("Signatures(%s) = %d, want 1", sub.Digest, len(got))
		}
		if diff := cmp.Diff(sigs[i], got[0]); diff != "" {
			t.Errorf("signature read back (-want +got):\n%s", diff)
		}
		if err := VerifySignature(ctx, v, got[0], sub.Digest); err != nil {
			t.Errorf("VerifySignature: %v", err)
		}
		// Only attestations are listed as attestation referrers.
		refs, err := Referrers(ctx, p, sub.Digest, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range refs {
			if r.PredicateType == "" {
				t.Errorf("Referrers lists a non-attestation: %+v", r)
			}
		}
	}
	if got, err := Signatures(ctx, p, img.Platforms[1].Manifest.Digest); err != nil || len(got) != 0 {
		t.Errorf("Signatures of an unsigned platform = %v, %v; want none", got, err)
	}

	// The manifest has the shape compiler/publish turns into cosign's .sig tag.
	im, _ := p.ImageIndex()
	idx, _ := im.IndexManifest()
	var found bool
	for _, d := range idx.Manifests {
		if d.ArtifactType != SignatureArtifactType || d.Annotations[AnnotationSubject] != img.Index.Digest.String() {
			continue
		}
		found = true
		raw, _ := p.Bytes(d.Digest)
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != "application/vnd.dev.cosign.simplesigning.v1+json" ||
			m.Layers[0].Annotations["dev.cosignproject.cosign/signature"] != sigs[0].Signature ||
			m.Subject == nil || m.Subject.Digest != img.Index.Digest {
			t.Errorf("signature manifest has the wrong shape:\n%s", raw)
		}
	}
	if !found {
		t.Error("no signature entry for the index in index.json")
	}

	// Wrong key, wrong image.
	_, other := testSigner(t)
	if err := VerifySignature(ctx, other, sigs[0], img.Index.Digest); !errors.Is(err, sign.ErrBadSignature) {
		t.Errorf("VerifySignature with another key: err = %v, want ErrBadSignature", err)
	}
	if err := VerifySignature(ctx, v, sigs[0], img.Platforms[0].Manifest.Digest); err == nil {
		t.Error("VerifySignature against another image: want an error")
	}
	if _, err := SignImages(ctx, nil, "nginx", img.Index); err == nil {
		t.Error("SignImages without a signer: want an error")
	}
}
