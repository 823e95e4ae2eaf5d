package site

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/vex"
)

const (
	tlRef = "a:1-wolfi-runtime"
	// tlVEX is the OpenVEX document the test layout's image is signed
	// with: CVE-2026-99999 affects it.
	tlVEX = `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://hic.dev/vex/a","author":"hic","timestamp":"2026-12-01T00:00:00Z","version":1,` +
		`"statements":[{"vulnerability":{"name":"CVE-2026-99999"},"products":[{"@id":"pkg:oci/a","subcomponents":[{"@id":"pkg:apk/wolfi/a@1.0.0-r0"}]}],` +
		`"status":"affected","action_statement":"upgrade to 1.0.1 when it is out"}]}`
)

// testLayout is an OCI layout of one image of spec tlRef, an index of one
// platform, with a hardening report (result fail), an OpenVEX document and
// a provenance (of compiled spec tlCompiled) signed by s, as hic build
// stores them. It returns the layout and the blob path of each envelope by
// predicate type.
func testLayout(t *testing.T, s sign.Signer) (string, map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) (v1.Hash, string) {
		h, _, err := v1.SHA256(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return h, p
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	platform, _ := put([]byte(`{"schemaVersion":2}`))
	empty, _ := put([]byte(`{}`))
	index, _ := put(mustJSON(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{
		{MediaType: types.OCIManifestSchema1, Digest: platform, Size: 19, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
	}}))
	indexDesc := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: index}
	entries := []v1.Descriptor{{MediaType: types.OCIImageIndex, Digest: index, Annotations: map[string]string{store.AnnotationSpecRef: tlRef}}}
	envelopes := map[string]string{}
	for pt, pred := range map[string]any{
		attest.PredicateHardening: attest.HardeningReport{Spec: tlRef, Result: attest.StatusFail,
			Rules: []attest.RuleResult{{Rule: "fs-setuid", Status: attest.StatusFail}}},
		vex.PredicateType: json.RawMessage(tlVEX),
		attest.PredicateSLSAProvenance: attest.ProvenancePredicate{BuildDefinition: attest.BuildDefinition{
			InternalParameters: attest.InternalParameters{CompiledSpecDigest: tlCompiled(t)}}},
	} {
		st, err := attest.NewStatement([]attest.Subject{{Name: "a", Digest: index, MediaType: types.OCIImageIndex}}, pt, pred)
		if err != nil {
			t.Fatal(err)
		}
		env, err := sign.SignStatement(context.Background(), s, mustJSON(st))
		if err != nil {
			t.Fatal(err)
		}
		envDigest, envPath := put(mustJSON(env))
		envelopes[pt] = envPath
		m, _ := put(mustJSON(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Subject: &indexDesc,
			Config: v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: empty, Size: 2},
			Layers: []v1.Descriptor{{MediaType: sign.EnvelopeMediaType, Digest: envDigest}}}))
		entries = append(entries, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: m, ArtifactType: "application/vnd.in-toto+json",
			Annotations: map[string]string{store.AnnotationSpecRef: tlRef, attest.AnnotationPredicateType: pt}})
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), mustJSON(v1.IndexManifest{SchemaVersion: 2, Manifests: entries}), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, envelopes
}

// tlCompiled is the compiled spec digest of tlRef as writePage shows it:
// the one the test layout's provenance records.
func tlCompiled(t *testing.T) string {
	t.Helper()
	d, err := compile.Digest(img(tlRef, "wolfi", ""))
	if err != nil {
		t.Fatal(err)
	}
	return d
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
	v, err := sign.NewVerifier(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// writePage writes the site of tlRef from layout and returns its page.
func writePage(t *testing.T, layout string, v *sign.Verifier) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "site")
	in := Input{Images: []compile.Image{img(tlRef, "wolfi", "")}, Layout: layout, Verifier: v,
		Today: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := Write(context.Background(), dir, in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "images", pageName(tlRef)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// forge edits the statement of the envelope at path in place, its signature
// and its blob's name unchanged, as an attacker on a layout would.
func forge(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(payload, []byte(old)) {
		t.Fatalf("%s: the statement has no %s", path, old)
	}
	env["payload"] = base64.StdEncoding.EncodeToString(bytes.ReplaceAll(payload, []byte(old), []byte(new)))
	if b, err = json.Marshal(env); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSiteTamperedBlob (review D1 §3): a VEX envelope and a hardening report
// edited in place in the layout are not shown, with or without a key; the
// page says which blob is damaged and to run hic verify.
func TestSiteTamperedBlob(t *testing.T) {
	s, v := testSigner(t)
	layout, envelopes := testLayout(t, s)
	forge(t, envelopes[vex.PredicateType], `"status":"affected","action_statement":"upgrade to 1.0.1 when it is out"`,
		`"status":"not_affected","justification":"vulnerable_code_not_present","impact_statement":"all clear"`)
	forge(t, envelopes[attest.PredicateHardening], `"result":"fail"`, `"result":"pass"`)
	for _, key := range []*sign.Verifier{nil, v} {
		p := writePage(t, layout, key)
		for _, bad := range []string{"all clear", "not_affected", "CVE-2026-99999", `r-pass">pass`, "Signed (verified"} {
			if strings.Contains(p, bad) {
				t.Errorf("key %v: the page shows %q of a tampered blob", key != nil, bad)
			}
		}
		for _, pt := range []string{vex.PredicateType, attest.PredicateHardening} {
			want := "damaged: blob sha256:" + filepath.Base(envelopes[pt]) + " does not match its digest — run hic verify"
			if strings.Count(p, want) < 2 { // in the list of damaged blobs and in its section
				t.Errorf("key %v: the page does not say %q where the %s was", key != nil, want, predicateName(pt))
			}
		}
		if !strings.Contains(p, "This image's layout is damaged") {
			t.Errorf("key %v: the page does not warn that the layout is damaged", key != nil)
		}
	}
}

// TestSiteVerifiesSignatures: with the signer's key the hardening report
// and the VEX statements are shown as verified with the key; without a key,
// as attached, signature not checked; with another key, not at all, and
// nothing is labelled verified.
func TestSiteVerifiesSignatures(t *testing.T) {
	s, v := testSigner(t)
	_, other := testSigner(t)
	layout, _ := testLayout(t, s)
	contents := []string{"CVE-2026-99999", "upgrade to 1.0.1 when it is out", `r-fail">fail`}

	p := writePage(t, layout, v)
	for _, want := range append(contents, "Hardening report: <span", "— <span class=\"sig\">Signed (verified with key hic.pub)</span>",
		"OpenVEX document: <span class=\"sig\">Signed (verified with key hic.pub)</span>", `<span class="badge r-pass">verified</span>`) {
		if !strings.Contains(p, want) {
			t.Errorf("with the key: the page lacks %q", want)
		}
	}
	if strings.Contains(p, "not checked") {
		t.Error("with the key: the page says a signature is not checked")
	}

	p = writePage(t, layout, nil)
	for _, want := range append(contents, "attached, signature not checked (hic verify checks it)") {
		if !strings.Contains(p, want) {
			t.Errorf("without a key: the page lacks %q", want)
		}
	}
	for _, bad := range []string{"Signed", "verified"} {
		if strings.Contains(p, bad) {
			t.Errorf("without a key: the page says %q", bad)
		}
	}

	p = writePage(t, layout, other)
	for _, bad := range append(contents, "Signed", ">verified<") {
		if strings.Contains(p, bad) {
			t.Errorf("with another key: the page shows %q", bad)
		}
	}
	for _, want := range []string{"Hardening report not shown: <span class=\"err\">signature does not verify with the key", "OpenVEX document not shown: <span class=\"err\">signature does not verify with the key"} {
		if !strings.Contains(p, want) {
			t.Errorf("with another key: the page lacks %q", want)
		}
	}
}

// TestSiteCosignCommands (review D1 §5): every cosign command the page
// shows passes --insecure-ignore-tlog, as hic signs without a transparency
// log, and the OpenVEX one names the full predicate type (cosign's
// "openvex" is https://openvex.dev/ns, which finds none of hic's).
func TestSiteCosignCommands(t *testing.T) {
	s, _ := testSigner(t)
	layout, _ := testLayout(t, s)
	p := writePage(t, layout, nil)
	cmds := regexp.MustCompile(`cosign verify[^\n<]*`).FindAllString(p, -1)
	if len(cmds) != 4 { // cosign verify, and verify-attestation of the hardening report, the VEX and the provenance
		t.Fatalf("the page shows %d cosign commands, want 4: %q", len(cmds), cmds)
	}
	for _, c := range cmds {
		if !strings.Contains(c, " --insecure-ignore-tlog ") {
			t.Errorf("%q lacks --insecure-ignore-tlog", c)
		}
	}
	if want := "cosign verify-attestation --key hic.pub --insecure-ignore-tlog --type https://openvex.dev/ns/v0.2.0 REGISTRY/a@sha256:"; !strings.Contains(p, want) {
		t.Errorf("the page lacks %q", want)
	}
}

// TestSiteStaleImage (review D1 §4): an image whose provenance records
// another compiled spec than the catalog's now is labelled built from an
// earlier version of the spec, on its page and in the index, not "built";
// the image of the current spec is labelled as the report says. Without a
// provenance verified with the key, the page says the version is not known.
func TestSiteStaleImage(t *testing.T) {
	s, v := testSigner(t)
	_, other := testSigner(t)
	layout, _ := testLayout(t, s)
	if p := writePage(t, layout, other); !strings.Contains(p, "the image has no readable provenance, so whether it was built from this version of the spec is not known") || strings.Contains(p, "s-stale") {
		t.Error("with another key: the page does not say which version of the spec the image is of is not known")
	}
	if p := writePage(t, layout, v); strings.Contains(p, "is not known") {
		t.Error("with the key: the page says the version of the spec is not known")
	}
	for _, key := range []*sign.Verifier{nil, v} {
		for _, changed := range []bool{false, true} {
			im := img(tlRef, "wolfi", "")
			if changed {
				im.Metadata.Description += " (v2)"
			}
			dir := filepath.Join(t.TempDir(), "site")
			in := Input{Images: []compile.Image{im}, Layout: layout, Verifier: key, Today: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
				Report: &report.Report{Specs: []report.SpecReport{{Ref: tlRef, Status: report.StatusBuilt}}}}
			sum, err := Write(context.Background(), dir, in)
			if err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(filepath.Join(dir, "images", pageName(tlRef)))
			if err != nil {
				t.Fatal(err)
			}
			index, err := os.ReadFile(filepath.Join(dir, "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			rows := indexRows(t, index)
			name := fmt.Sprintf("key %v, spec changed %v", key != nil, changed)
			if !changed {
				if sum.Stale != 0 || rows[0][6] != report.StatusBuilt || strings.Contains(string(page), "earlier version") || !strings.Contains(string(page), `s-built">built<`) {
					t.Errorf("%s: the image of the current spec is not labelled built (stale %d, index status %q)", name, sum.Stale, rows[0][6])
				}
				continue
			}
			if sum.Stale != 1 || rows[0][6] != StatusStale {
				t.Errorf("%s: summary stale %d, index status %q, want 1, %q", name, sum.Stale, rows[0][6], StatusStale)
			}
			for _, want := range []string{`s-stale">built from an earlier version of this spec; run hic build<`,
				"The image shown was built from an earlier version of this spec; run hic build.", "<code>" + tlCompiled(t) + "</code>"} {
				if !strings.Contains(string(page), want) {
					t.Errorf("%s: the page lacks %q", name, want)
				}
			}
			if strings.Contains(string(page), `s-built">built<`) {
				t.Errorf("%s: the page labels the image of an earlier spec built", name)
			}
			if !strings.Contains(string(index), "1 from an earlier version of their spec; run hic build") || !strings.Contains(string(index), `s-stale">built from an earlier version`) {
				t.Errorf("%s: the index does not say the image is of an earlier spec", name)
			}
		}
	}
}
