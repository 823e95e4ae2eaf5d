package pipeline

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/report"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/vex"
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

// fakeRemote is a registry cache holding the images of some input digests;
// it records the digests it is asked for.
type fakeRemote struct {
	images map[string]v1.Hash
	asked  []string
}

func (f *fakeRemote) Lookup(ctx context.Context, repository, inputDigest string) (string, v1.Hash, bool, error) {
	f.asked = append(f.asked, inputDigest)
	h, ok := f.images[inputDigest]
	return "registry.test/" + repository, h, ok, nil
}

// A changed advisory about a package a spec installs changes its input
// digest: the spec is built again, not found in the layout or the registry
// cache, into the same image with a new signed OpenVEX document stating the
// advisory and a provenance naming the advisories' digest. An advisory
// about a package the spec does not install leaves it cached.
func TestAdvisoryChangeReattests(t *testing.T) {
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
	s := openStore(t, filepath.Join(t.TempDir(), "oci"))
	img := spec("nginx", "1.29") // installs app and baselayout
	published := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	unrelated := &vex.Advisory{Package: "zlib", ID: "CVE-2026-10001", Status: "affected", Action: "upgrade", Published: published}
	advs := &vex.Advisories{ByPackage: map[string][]*vex.Advisory{"zlib": {unrelated}}}
	builder := &fakeBuilder{}
	run := func(adv *vex.Advisories, remote RemoteCache) report.SpecReport {
		t.Helper()
		att := &attest.SigningAttacher{Signer: signer, HicVersion: "v0.1.0", Advisories: adv}
		opts := Options{Store: s, Builder: builder, Attacher: att, Advisories: adv, HicVersion: "v0.1.0", KeyIdentity: signer.KeyID()}
		if remote != nil {
			opts.Remote = remote
		}
		r, err := Run(ctx, []compile.Image{img}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return r.Specs[0]
	}
	first := run(advs, nil)
	if first.Status != report.StatusBuilt {
		t.Fatalf("first build: %s (%s)", first.Status, first.Error)
	}

	// Another advisory of a package nginx does not install: cached.
	other := &vex.Advisory{Package: "zlib", ID: "CVE-2026-10002", Status: "affected", Action: "upgrade", Published: published}
	advs = &vex.Advisories{ByPackage: map[string][]*vex.Advisory{"zlib": {unrelated, other}}}
	if got := run(advs, nil); got.Status != report.StatusCached || got.InputDigest != first.InputDigest || builder.buildCount(img.Ref) != 1 {
		t.Fatalf("after an advisory of an uninstalled package: %s, input digest %s (was %s), %d builds; want cached", got.Status, got.InputDigest, first.InputDigest, builder.buildCount(img.Ref))
	}

	// An advisory of app: built again, though the registry cache holds the
	// image of the old input digest.
	added := &vex.Advisory{Package: "app", ID: "CVE-2026-99999", Status: "affected", Action: "upgrade when 1.31.5 lands", Published: published}
	advs = &vex.Advisories{ByPackage: map[string][]*vex.Advisory{"zlib": {unrelated, other}, "app": {added}}}
	firstImage, err := v1.NewHash(first.ImageDigest)
	if err != nil {
		t.Fatal(err)
	}
	remote := &fakeRemote{images: map[string]v1.Hash{first.InputDigest: firstImage}}
	again := run(advs, remote)
	if again.Status != report.StatusBuilt || again.CachedFrom != "" || builder.buildCount(img.Ref) != 2 {
		t.Fatalf("after an advisory of app: %s (from %q), %d builds; want built", again.Status, again.CachedFrom, builder.buildCount(img.Ref))
	}
	if again.InputDigest == first.InputDigest || !slices.Equal(remote.asked, []string{again.InputDigest}) {
		t.Errorf("input digest %s (was %s); the registry cache was asked for %v", again.InputDigest, first.InputDigest, remote.asked)
	}
	// The image is the same: advisories are in its referrers only.
	if again.ImageDigest != first.ImageDigest {
		t.Errorf("image digest %s, want the unchanged %s", again.ImageDigest, first.ImageDigest)
	}

	wantAdv, err := advs.DigestFor([]string{"app", "baselayout"})
	if err != nil || wantAdv == "" {
		t.Fatalf("advisories digest %q: %v", wantAdv, err)
	}
	refs, err := attest.Referrers(ctx, s.Layout(), firstImage, "")
	if err != nil {
		t.Fatal(err)
	}
	var stated []string
	var provenance int
	for _, ref := range refs {
		env, err := attest.ReadEnvelope(s.Layout(), ref)
		if err != nil {
			t.Fatal(err)
		}
		st, err := attest.Open(ctx, verifier, env)
		if err != nil {
			t.Fatal(err)
		}
		switch ref.PredicateType {
		case vex.PredicateType:
			var doc govex.VEX
			if err := json.Unmarshal(st.Predicate, &doc); err != nil {
				t.Fatal(err)
			}
			for _, s := range doc.Statements {
				stated = append(stated, string(s.Vulnerability.Name)+" "+string(s.Status))
			}
		case attest.PredicateSLSAProvenance:
			var p attest.ProvenancePredicate
			if err := json.Unmarshal(st.Predicate, &p); err != nil {
				t.Fatal(err)
			}
			provenance++
			if got := p.BuildDefinition.ExternalParameters.Catalog.AdvisoriesDigest; got != wantAdv {
				t.Errorf("provenance advisoriesDigest %q, want %q", got, wantAdv)
			}
			if p.RunDetails.Metadata.InvocationID != again.InputDigest {
				t.Errorf("provenance invocation id %s, want the new input digest %s", p.RunDetails.Metadata.InvocationID, again.InputDigest)
			}
		}
	}
	if !slices.Equal(stated, []string{"CVE-2026-99999 affected"}) {
		t.Errorf("signed VEX statements about the index: %q, want the new advisory", stated)
	}
	if provenance != 1 {
		t.Errorf("%d provenance attestations about the index, want 1", provenance)
	}
}
