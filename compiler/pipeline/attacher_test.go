package pipeline

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/report"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/sign"
)

func TestSigningAttacher(t *testing.T) {
	ctx := context.Background()
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := sign.NewVerifier(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	s := openStore(t, filepath.Join(out, "oci"))
	img := spec("nginx", "1.29")
	// A static check's waived finding (no failing one reaches a build).
	static := finding.Finding{Rule: "nonroot", Severity: finding.Error, Ref: img.Ref, Message: "runs as root", Waived: true, Reason: "binds port 80"}
	att := &attest.SigningAttacher{Signer: signer, HicVersion: "v0.1.0", GitCommit: "0123abcd", Rules: []string{"nonroot"},
		StaticFindings: map[string][]finding.Finding{img.Ref: {static}}}
	r, err := Run(ctx, []compile.Image{img}, Options{Store: s, Builder: &fakeBuilder{}, Attacher: att, HicVersion: "v0.1.0", KeyIdentity: signer.KeyID()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Signed || r.KeyID != signer.KeyID() || r.Specs[0].Status != report.StatusBuilt {
		t.Fatalf("report: signed %v key %q status %s (%s)", r.Signed, r.KeyID, r.Specs[0].Status, r.Specs[0].Error)
	}
	// Every signature and attestation entry in index.json names the key,
	// which a build with another key is refused by (signedlayout.go).
	if got := s.ArtifactAnnotations(attest.AnnotationKeyID, attest.ArtifactType, attest.SignatureArtifactType); !slices.Equal(got[img.Ref], []string{signer.KeyID()}) || len(got) != 1 {
		t.Errorf("key ids in index.json: %q, want %s: [%s]", got, img.Ref, signer.KeyID())
	}
	idxHash, err := v1.NewHash(r.Specs[0].ImageDigest)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := s.ImageIndex(idxHash)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	subjects := []v1.Hash{idxHash}
	for _, m := range im.Manifests {
		subjects = append(subjects, m.Digest)
	}
	wantCompiled, err := compile.Digest(img)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range subjects {
		sigs, err := attest.Signatures(ctx, s.Layout(), h)
		if err != nil {
			t.Fatal(err)
		}
		if len(sigs) != 1 {
			t.Fatalf("%s: %d signatures, want 1", h, len(sigs))
		}
		if err := attest.VerifySignature(ctx, verifier, sigs[0], h); err != nil {
			t.Errorf("%s: signature: %v", h, err)
		}
		refs, err := attest.Referrers(ctx, s.Layout(), h, "")
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, ref := range refs {
			types = append(types, ref.PredicateType)
			env, err := attest.ReadEnvelope(s.Layout(), ref)
			if err != nil {
				t.Fatal(err)
			}
			st, err := attest.Open(ctx, verifier, env)
			if err != nil {
				t.Fatalf("%s %s: %v", h, ref.PredicateType, err)
			}
			if !slices.Contains(st.SubjectDigests(), h) {
				t.Errorf("%s %s: subjects %v", h, ref.PredicateType, st.SubjectDigests())
			}
			if ref.PredicateType == attest.PredicateHardening {
				// The signed hardening report lists the static checks'
				// findings beside the post-build ones.
				var hr attest.HardeningReport
				if err := json.Unmarshal(st.Predicate, &hr); err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(hr.Findings, func(f finding.Finding) bool { return f.Rule == static.Rule && f.Waived && f.Message == static.Message }) {
					t.Errorf("%s: hardening report leaves out the static finding %+v: %+v", h, static, hr.Findings)
				}
			}
			if ref.PredicateType == attest.PredicateSLSAProvenance {
				var p attest.ProvenancePredicate
				if err := json.Unmarshal(st.Predicate, &p); err != nil {
					t.Fatal(err)
				}
				ep := p.BuildDefinition.ExternalParameters
				if ep.Spec != img.Ref || ep.Catalog.GitCommit != "0123abcd" || p.BuildDefinition.InternalParameters.CompiledSpecDigest != wantCompiled {
					t.Errorf("provenance parameters: %+v %+v", ep, p.BuildDefinition.InternalParameters)
				}
				if p.RunDetails.Metadata.InvocationID != r.Specs[0].InputDigest {
					t.Errorf("invocation id %q, want the input digest %q", p.RunDetails.Metadata.InvocationID, r.Specs[0].InputDigest)
				}
			}
		}
		for _, want := range []string{attest.PredicateSLSAProvenance, attest.PredicateHardening} {
			if !slices.Contains(types, want) {
				t.Errorf("%s: no %s attestation among %v", h, want, types)
			}
		}
	}
	// Unsigned runs say so.
	s2 := openStore(t, filepath.Join(out, "oci2"))
	r2, err := Run(ctx, []compile.Image{img}, Options{Store: s2, Builder: &fakeBuilder{}, HicVersion: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Signed || r2.Specs[0].InputDigest == r.Specs[0].InputDigest {
		t.Errorf("unsigned run: signed %v, input digest %s equals the signed one", r2.Signed, r2.Specs[0].InputDigest)
	}
}

// An unsigned run into a layout that keeps images an earlier run signed
// (hic build --unsigned --replace-signed of some specs) keeps that run's
// key id in report.json: those images' attestations are still that key's
// (a build reads it for index.json entries that name no key). Once no
// signed image is left, the report names no key.
func TestUnsignedRunKeepsKeyOfImagesLeftSigned(t *testing.T) {
	ctx := context.Background()
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	s := openStore(t, filepath.Join(out, "oci"))
	redis, nginx := spec("redis", "8.2"), spec("nginx", "1.29")
	reportPath := filepath.Join(out, "report.json")
	att := &attest.SigningAttacher{Signer: signer, HicVersion: "v0.1.0", GitCommit: "0123abcd", Rules: []string{"nonroot"}}
	if _, err := Run(ctx, []compile.Image{redis, nginx}, Options{Store: s, Builder: &fakeBuilder{}, Attacher: att, HicVersion: "v0.1.0", KeyIdentity: signer.KeyID(), ReportPath: reportPath}); err != nil {
		t.Fatal(err)
	}
	unsigned := Options{Store: s, Builder: &fakeBuilder{}, HicVersion: "v0.1.0", ReportPath: reportPath}
	r, err := Run(ctx, []compile.Image{redis}, unsigned)
	if err != nil {
		t.Fatal(err)
	}
	if r.Specs[0].Status != report.StatusBuilt {
		t.Fatalf("unsigned redis: %s (%s), want built", r.Specs[0].Status, r.Specs[0].Error)
	}
	disk, err := report.ReadReport(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if disk.Signed || disk.KeyID != signer.KeyID() {
		t.Errorf("report.json with nginx still signed: signed %v, keyId %q; want false, %q", disk.Signed, disk.KeyID, signer.KeyID())
	}
	if _, err := Run(ctx, []compile.Image{nginx}, unsigned); err != nil {
		t.Fatal(err)
	}
	if disk, err = report.ReadReport(reportPath); err != nil {
		t.Fatal(err)
	}
	if disk.Signed || disk.KeyID != "" {
		t.Errorf("report.json with no signed image left: signed %v, keyId %q; want false, none", disk.Signed, disk.KeyID)
	}
}
