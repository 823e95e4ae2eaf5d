package main

// Acceptance tests of issue 13 on real builds: smoke tests run after the
// build and a wrong expected output fails it; every image carries a signed
// OpenVEX attestation holding exactly the catalog's advisories about the
// packages it contains, read back with the OpenVEX library.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/smoke"
	"github.com/hic-build/hic/compiler/testenv"
	"github.com/hic-build/hic/compiler/vex"
)

const svCatalog = "testdata/smokevex/catalog"

func TestSmokeAndVEXBuild(t *testing.T) {
	bldBwrap(t)
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	bldMirror(t, svCatalog, mirror)
	key := bldKey(t)
	out := filepath.Join(tmp, "out")
	// broken's test fails, so the build does.
	stdout, stderr := bldBuild(t, 1, svCatalog, "--all", "--mirrors", mirror, "--out", out, "--key", key)
	all := stdout + stderr
	for _, want := range []string{"broken:1-wolfi-runtime", "smoke-test", `test version failed on linux/amd64: /usr/bin/broken --version: output does not contain "2.0.0"`} {
		if !strings.Contains(all, want) {
			t.Errorf("build output lacks %q:\n%s", want, all)
		}
	}
	rep := bldReport(t, out)

	// Smoke results: app passes on linux/amd64 (on synthetic contents, and
	// says so), arm64 is not run (never passed), broken fails.
	for _, ref := range []string{"app:1-wolfi-runtime", "app:1-wolfi-dev", "broken:1-wolfi-runtime"} {
		sr := rep[ref]
		byPlat := map[string]smoke.Result{}
		for _, r := range sr.Tests {
			byPlat[r.Platform] = r
		}
		host, arm := byPlat["linux/amd64"], byPlat["linux/arm64"]
		wantHost := smoke.Passed
		if strings.HasPrefix(ref, "broken") {
			wantHost = smoke.Failed
		}
		if host.Status != wantHost || !host.Synthetic {
			t.Errorf("%s linux/amd64: %s synthetic=%v (%s), want %s on synthetic contents", ref, host.Status, host.Synthetic, host.Reason, wantHost)
		}
		if arm.Status != smoke.NotRun || arm.Reason == "" {
			t.Errorf("%s linux/arm64: %s (%s), want not-run with a reason", ref, arm.Status, arm.Reason)
		}
		if wantHost == smoke.Passed && sr.Failed() {
			t.Errorf("%s failed: %v %s", ref, sr.Findings, sr.Error)
		}
		if wantHost == smoke.Failed && !sr.Failed() {
			t.Errorf("%s: a failed smoke test did not fail the spec", ref)
		}
	}

	oci := filepath.Join(out, "oci")
	// OpenVEX: busybox's advisory in exactly the dev image, app's in both app images.
	pub := strings.TrimSuffix(key, ".key") + ".pub"
	v, err := sign.LoadVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	// broken's image is stored untagged (issue 10).
	if b := rep["broken:1-wolfi-runtime"]; b.RejectedDigest == "" || b.ImageDigest != "" {
		t.Errorf("broken: rejectedDigest %q imageDigest %q, want a rejected image and no tagged one", b.RejectedDigest, b.ImageDigest)
	}
	want := map[string][]string{
		"app:1-wolfi-runtime": {"GHSA-2345-6789-cfgh app fixed"},
		"app:1-wolfi-dev":     {"CVE-2026-20001 busybox not_affected", "GHSA-2345-6789-cfgh app fixed"},
	}
	// broken failed its smoke test: its image is kept unsigned, with no
	// attestation at all.
	if doc := svVEXAll(t, oci, rep["broken:1-wolfi-runtime"]); doc != 0 {
		t.Errorf("broken:1-wolfi-runtime: %d OpenVEX attestations, want none for a failed spec", doc)
	}
	for ref, w := range want {
		doc := svVEX(t, v, oci, rep[ref])
		var got []string
		for _, st := range doc.Statements {
			if err := st.Validate(); err != nil {
				t.Errorf("%s: %s: %v", ref, st.Vulnerability.Name, err)
			}
			for _, p := range st.Products {
				if !strings.Contains(p.ID, strings.TrimPrefix(rep[ref].ImageDigest, "sha256:")) {
					t.Errorf("%s: product %s does not name the image %s", ref, p.ID, rep[ref].ImageDigest)
				}
				for _, sc := range p.Subcomponents {
					name := strings.SplitN(strings.TrimPrefix(sc.ID, "pkg:apk/wolfi/"), "@", 2)[0]
					got = append(got, string(st.Vulnerability.Name)+" "+name+" "+string(st.Status))
				}
			}
		}
		sort.Strings(got)
		got = compactStrings(got) // one subcomponent per arch
		if strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("%s: OpenVEX statements %q, want %q", ref, got, w)
		}
	}

	// hic verify checks the document against the catalog.
	if r := hicCLI(t, nil, "-C", svCatalog, "verify", "app:1-wolfi-dev", "--layout", oci, "--key", pub); r.Code != 0 || !strings.Contains(r.Stdout, "ok  vex") {
		t.Errorf("hic verify: %s", r)
	}
}

// svVEX returns the OpenVEX document of the signed attestation stored with
// the spec's image index, after checking its signature.
func svVEX(t *testing.T, v *sign.Verifier, oci string, sr report.SpecReport) *govex.VEX {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oci, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	var docs []*govex.VEX
	for _, d := range idx.Manifests {
		if d.Annotations[attest.AnnotationPredicateType] != vex.PredicateType || d.Annotations[attest.AnnotationSubject] != sr.ImageDigest {
			continue
		}
		mb := svBlob(t, oci, d.Digest)
		var m v1.Manifest
		if err := json.Unmarshal(mb, &m); err != nil || len(m.Layers) != 1 {
			t.Fatalf("%s: OpenVEX referrer manifest: %v", sr.Ref, err)
		}
		st, err := attest.Open(t.Context(), v, svBlob(t, oci, m.Layers[0].Digest))
		if err != nil {
			t.Fatalf("%s: OpenVEX attestation does not verify: %v", sr.Ref, err)
		}
		doc, err := govex.Parse(st.Predicate)
		if err != nil {
			t.Fatalf("%s: go-vex cannot parse the document: %v", sr.Ref, err)
		}
		docs = append(docs, doc)
	}
	if len(docs) != 1 {
		t.Fatalf("%s: %d OpenVEX attestations about the index %s, want 1", sr.Ref, len(docs), sr.ImageDigest)
	}
	return docs[0]
}

func svBlob(t *testing.T, oci string, h v1.Hash) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oci, "blobs", h.Algorithm, h.Hex))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compactStrings(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// svVEXAll counts the OpenVEX referrers stored for the spec, whatever their subject.
func svVEXAll(t *testing.T, oci string, sr report.SpecReport) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oci, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range idx.Manifests {
		if d.Annotations[attest.AnnotationPredicateType] == vex.PredicateType && d.Annotations["dev.hic.spec.ref"] == sr.Ref {
			n++
		}
	}
	return n
}

// TestVerifyVEXAgainstCatalog: hic verify compares each signed OpenVEX
// statement with the catalog's advisory, and refuses a second signed
// document about the same image that contradicts the first. (An outside
// review's repros: an image built from a catalog copy where an advisory
// said not_affected passed verify against the catalog saying affected; and
// as the image digest does not change with an advisory, a republish left
// the old document among the referrers, and verify merged the two.)
func TestVerifyVEXAgainstCatalog(t *testing.T) {
	bldBwrap(t)
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	bldMirror(t, svCatalog, mirror)
	key := bldKey(t)
	pub := strings.TrimSuffix(key, ".key") + ".pub"
	const ref = "app:1-wolfi-dev"
	// catA: the copy where busybox's advisory says affected.
	catA := filepath.Join(tmp, "catA")
	bldCopyDir(t, svCatalog, catA)
	advA := filepath.Join(catA, vex.Dir, "busybox.cue")
	b, err := os.ReadFile(advA)
	if err != nil {
		t.Fatal(err)
	}
	old := `	status:        "not_affected"
	justification: "vulnerable_code_not_in_execute_path"
	impact:        "the test images never run the affected applet"
`
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s: no busybox advisory to change", advA)
	}
	if err := os.WriteFile(advA, []byte(strings.Replace(string(b), old, "\tstatus: \"affected\"\n\taction: \"upgrade when 1.37.1 lands\"\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, outA := filepath.Join(tmp, "out"), filepath.Join(tmp, "outA")
	bldBuild(t, 0, svCatalog, ref, "--mirrors", mirror, "--out", out, "--key", key)
	bldBuild(t, 0, catA, ref, "--mirrors", mirror, "--out", outA, "--key", key)
	oci, ociA := filepath.Join(out, "oci"), filepath.Join(outA, "oci")
	verify := func(catalog, oci string) cliRun {
		return hicCLI(t, nil, "-C", catalog, "verify", ref, "--layout", oci, "--key", pub)
	}
	for _, c := range [][2]string{{svCatalog, oci}, {catA, ociA}} {
		if r := verify(c[0], c[1]); r.Code != 0 || !strings.Contains(r.Stdout, "ok  vex") {
			t.Errorf("each image against its own catalog: %s", r)
		}
	}
	// A: the image built from catA against the catalog, and back.
	for _, c := range []struct{ catalog, oci, catSays, vexSays string }{
		{svCatalog, ociA, "not_affected", "affected"},
		{catA, oci, "affected", "not_affected"},
	} {
		r := verify(c.catalog, c.oci)
		want := "busybox CVE-2026-20001: status: the catalog says " + c.catSays + ", the signed VEX says " + c.vexSays
		if r.Code == 0 || !strings.Contains(r.Stdout, "FAIL  vex") || !strings.Contains(r.Stdout, want) {
			t.Errorf("an image built from another catalog's advisory: want FAIL vex with %q, got %s", want, r)
		}
	}

	// A registry: catA's image published, then the catalog's, the same
	// image with other attestations. The second publish withdraws the
	// VEX document (and the rest) the first pushed, from the registry and
	// its referrers tag, so the referrers say one thing and verify passes;
	// left there, the two documents disagreed.
	reg := testenv.StartRegistry(t)
	hicCLI(t, nil, "-C", catA, "publish", "--layout", ociA, reg+"/vex").must(t, 0)
	hicCLI(t, nil, "-C", svCatalog, "publish", "--layout", oci, reg+"/vex").must(t, 0)
	if r := hicCLI(t, nil, "-C", svCatalog, "verify", ref, "--registry", reg+"/vex", "--key", pub); r.Code != 0 || !strings.Contains(r.Stdout, "ok  vex") {
		t.Errorf("verify after a republish with a changed advisory: %s\nwant the superseded VEX document withdrawn and verify to pass", r)
	}

	// B: the same image, with catA's signed document added to its referrers.
	repA, rep := bldReport(t, outA)[ref], bldReport(t, out)[ref]
	if repA.ImageDigest != rep.ImageDigest {
		t.Fatalf("the advisory changed the image digest (%s, %s): the replay needs the same image", rep.ImageDigest, repA.ImageDigest)
	}
	pA, p := layout.Path(ociA), layout.Path(oci)
	iiA, err := pA.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	imA, err := iiA.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	copyBlob := func(h v1.Hash) {
		r, err := pA.Blob(h)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := p.WriteBlob(h, r); err != nil {
			t.Fatal(err)
		}
	}
	replayed := 0
	for _, d := range imA.Manifests {
		if d.Annotations[attest.AnnotationPredicateType] != vex.PredicateType || d.Annotations[attest.AnnotationSubject] != repA.ImageDigest {
			continue
		}
		var m v1.Manifest
		if err := json.Unmarshal(svBlob(t, ociA, d.Digest), &m); err != nil {
			t.Fatal(err)
		}
		copyBlob(d.Digest)
		copyBlob(m.Config.Digest)
		for _, l := range m.Layers {
			copyBlob(l.Digest)
		}
		if err := p.AppendDescriptor(d); err != nil {
			t.Fatal(err)
		}
		replayed++
	}
	if replayed != 1 {
		t.Fatalf("%d OpenVEX referrers of the index in %s, want 1", replayed, ociA)
	}
	for _, catalog := range []string{svCatalog, catA} {
		r := verify(catalog, oci)
		if r.Code == 0 || !strings.Contains(r.Stdout, "FAIL  vex") || !strings.Contains(r.Stdout, "two signed OpenVEX documents disagree about busybox CVE-2026-20001: document https://hic.dev/vex/") ||
			!strings.Contains(r.Stdout, " says status affected, ") || !strings.Contains(r.Stdout, " says status not_affected, ") {
			t.Errorf("-C %s, two contradicting signed documents: want FAIL vex naming both, got %s", catalog, r)
		}
	}
}
