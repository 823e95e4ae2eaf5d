package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	provv1 "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
)

func hash(t *testing.T, c byte) v1.Hash {
	t.Helper()
	h, err := v1.NewHash("sha256:" + strings.Repeat(string(c), 64))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func testSubjects(t *testing.T) (index, amd64 Subject) {
	index = Subject{Name: "nginx", Digest: hash(t, 'a'), MediaType: types.OCIImageIndex, Size: 500}
	amd64 = Subject{Name: "nginx", Digest: hash(t, 'b'), MediaType: types.OCIManifestSchema1, Size: 400}
	return index, amd64
}

var testPackages = []Package{
	{Name: "nginx", Version: "1.29.1-r0", Arch: "x86_64", Repository: "https://packages.wolfi.dev/os", Checksum: "Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc=",
		FileDigest: "sha256:" + strings.Repeat("1", 64), Source: SourceRepository, DownloadURL: "https://packages.wolfi.dev/os/x86_64/nginx-1.29.1-r0.apk"},
	{Name: "busybox", Version: "1.37.0-r0", Arch: "x86_64", Repository: "https://packages.wolfi.dev/os/", Checksum: "Q2" + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		FileDigest: "sha256:" + strings.Repeat("2", 64), Source: SourceMirror},
	{Name: "busybox", Version: "1.37.0-r0", Arch: "aarch64", Repository: "https://packages.wolfi.dev/os", Checksum: "sha256:" + strings.Repeat("C", 64),
		FileDigest: "sha256:" + strings.Repeat("3", 64), Source: SourceSyntheticMirror},
	// A builder that does not know the file: no digest, no source.
	{Name: "ca-certificates-bundle", Version: "20250101-r0", Arch: "noarch", Repository: "https://packages.wolfi.dev/os", Checksum: "Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc="},
}

func testProvenance(t *testing.T) Provenance {
	index, amd64 := testSubjects(t)
	return Provenance{
		Subjects:           []Subject{index, amd64},
		SpecRef:            "nginx:1.29-wolfi-runtime",
		CatalogDigest:      "sha256:" + strings.Repeat("d", 64),
		GitCommit:          "0123456789abcdef0123456789abcdef01234567",
		SourceFile:         "nginx/image.cue",
		AdvisoriesDigest:   "sha256:" + strings.Repeat("a", 64),
		CompiledSpecDigest: "sha256:" + strings.Repeat("e", 64),
		Distro:             "wolfi",
		Packages:           testPackages,
		HicVersion:         "v0.1.0",
		ApkoVersion:        "v0.30.34",
		InputDigest:        "sha256:" + strings.Repeat("f", 64),
		BuildTime:          time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
	}
}

func TestStatement(t *testing.T) {
	index, amd64 := testSubjects(t)
	st, err := NewStatement([]Subject{index, amd64}, "https://example.com/p", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_type":"https://in-toto.io/Statement/v1","subject":[` +
		`{"name":"nginx","digest":{"sha256":"` + strings.Repeat("a", 64) + `"}},` +
		`{"name":"nginx","digest":{"sha256":"` + strings.Repeat("b", 64) + `"}}],` +
		`"predicateType":"https://example.com/p","predicate":{"k":"v"}}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("statement JSON (-want +got):\n%s", diff)
	}
	// The official in-toto type accepts it.
	var pb ita.Statement
	if err := protojson.Unmarshal(b, &pb); err != nil {
		t.Fatalf("in-toto Statement: %v", err)
	}
	if err := pb.Validate(); err != nil {
		t.Errorf("in-toto Statement.Validate: %v", err)
	}
	back, err := ParseStatement(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]v1.Hash{index.Digest, amd64.Digest}, back.SubjectDigests()); diff != "" {
		t.Errorf("SubjectDigests (-want +got):\n%s", diff)
	}

	bad := []struct {
		name     string
		subjects []Subject
		pt       string
		pred     any
	}{
		{"no subjects", nil, "p", map[string]string{}},
		{"no predicate type", []Subject{index}, "", map[string]string{}},
		{"subject without digest", []Subject{{Name: "x"}}, "p", map[string]string{}},
		{"predicate not an object", []Subject{index}, "p", []string{"a"}},
		{"predicate not JSON", []Subject{index}, "p", []byte("{")},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewStatement(tc.subjects, tc.pt, tc.pred); err == nil {
				t.Error("NewStatement: want an error")
			}
		})
	}
	for name, in := range map[string]string{
		"wrong type":   `{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"a"}}],"predicateType":"p","predicate":{}}`,
		"no subject":   `{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"p","predicate":{}}`,
		"no digest":    `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x"}],"predicateType":"p","predicate":{}}`,
		"no predicate": `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"a"}}],"predicate":{}}`,
		"not json":     `{`,
	} {
		if _, err := ParseStatement([]byte(in)); err == nil {
			t.Errorf("ParseStatement %s: want an error", name)
		}
	}
}

func TestProvenance(t *testing.T) {
	in := testProvenance(t)
	st, err := ProvenanceStatement(in)
	if err != nil {
		t.Fatal(err)
	}
	if st.PredicateType != PredicateSLSAProvenance {
		t.Errorf("predicateType = %q", st.PredicateType)
	}
	var got ProvenancePredicate
	if err := json.Unmarshal(st.Predicate, &got); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)
	want := ProvenancePredicate{
		BuildDefinition: BuildDefinition{
			BuildType: "https://hic.dev/build/v1",
			ExternalParameters: ExternalParameters{
				Spec: "nginx:1.29-wolfi-runtime",
				Catalog: CatalogSource{
					Digest:           "sha256:" + strings.Repeat("d", 64),
					GitCommit:        "0123456789abcdef0123456789abcdef01234567",
					File:             "nginx/image.cue",
					AdvisoriesDigest: "sha256:" + strings.Repeat("a", 64),
				},
			},
			InternalParameters: InternalParameters{CompiledSpecDigest: "sha256:" + strings.Repeat("e", 64)},
			ResolvedDependencies: []ResourceDescriptor{
				// From a synthetic mirror: no download location, the
				// source says so.
				{
					URI:    "pkg:apk/wolfi/busybox@1.37.0-r0?arch=aarch64&repository_url=https%3A%2F%2Fpackages.wolfi.dev%2Fos",
					Name:   "busybox",
					Digest: map[string]string{"sha256": strings.Repeat("3", 64)},
					Annotations: map[string]string{"apkChecksum": "sha256:" + strings.Repeat("C", 64),
						"repository": "https://packages.wolfi.dev/os", "source": "synthetic-mirror"},
				},
				// From a mirror: no download location.
				{
					URI:    "pkg:apk/wolfi/busybox@1.37.0-r0?arch=x86_64&repository_url=https%3A%2F%2Fpackages.wolfi.dev%2Fos%2F",
					Name:   "busybox",
					Digest: map[string]string{"sha256": strings.Repeat("2", 64)},
					Annotations: map[string]string{"apkChecksum": "Q2AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
						"repository": "https://packages.wolfi.dev/os/", "source": "mirror"},
				},
				// The file not known: no digest (the APK checksum is no
				// digest of the file), no download location.
				{
					URI:         "pkg:apk/wolfi/ca-certificates-bundle@20250101-r0?arch=noarch&repository_url=https%3A%2F%2Fpackages.wolfi.dev%2Fos",
					Name:        "ca-certificates-bundle",
					Annotations: map[string]string{"apkChecksum": "Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc=", "repository": "https://packages.wolfi.dev/os"},
				},
				// Fetched: the URL it was fetched from.
				{
					URI:              "pkg:apk/wolfi/nginx@1.29.1-r0?arch=x86_64&repository_url=https%3A%2F%2Fpackages.wolfi.dev%2Fos",
					Name:             "nginx",
					DownloadLocation: "https://packages.wolfi.dev/os/x86_64/nginx-1.29.1-r0.apk",
					Digest:           map[string]string{"sha256": strings.Repeat("1", 64)},
					Annotations: map[string]string{"apkChecksum": "Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc=",
						"repository": "https://packages.wolfi.dev/os", "source": "repository"},
				},
			},
		},
		RunDetails: RunDetails{
			Builder: Builder{ID: "https://hic.dev/builder/v1", Version: map[string]string{"hic": "v0.1.0", "apko": "v0.30.34"}},
			Metadata: BuildMetadata{
				InvocationID: "sha256:" + strings.Repeat("f", 64),
				StartedOn:    &when,
				FinishedOn:   &when,
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("provenance (-want +got):\n%s", diff)
	}

	// The official SLSA v1 type accepts the predicate as it is (no unknown
	// fields, required fields present).
	var pb provv1.Provenance
	if err := protojson.Unmarshal(st.Predicate, &pb); err != nil {
		t.Fatalf("SLSA Provenance: %v", err)
	}
	if err := pb.Validate(); err != nil {
		t.Errorf("SLSA Provenance.Validate: %v", err)
	}

	// Reproducible: same inputs in another order give the same bytes.
	b1, _ := st.Marshal()
	in2 := testProvenance(t)
	in2.Packages = []Package{testPackages[3], testPackages[2], testPackages[0], testPackages[1], testPackages[0], testPackages[3]}
	st2, err := ProvenanceStatement(in2)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := st2.Marshal()
	if !bytes.Equal(b1, b2) {
		t.Errorf("provenance depends on package order:\n%s\n%s", b1, b2)
	}

	// Without an input digest the invocation id is derived from the inputs.
	in3 := testProvenance(t)
	in3.InputDigest = ""
	p3, err := ProvenancePredicateOf(in3)
	if err != nil {
		t.Fatal(err)
	}
	in4 := testProvenance(t)
	in4.InputDigest = ""
	in4.CompiledSpecDigest = "sha256:" + strings.Repeat("0", 64)
	p4, _ := ProvenancePredicateOf(in4)
	id3, id4 := p3.RunDetails.Metadata.InvocationID, p4.RunDetails.Metadata.InvocationID
	if !strings.HasPrefix(id3, "sha256:") || id3 == id4 {
		t.Errorf("derived invocation ids %q, %q: want sha256 ids that differ with the inputs", id3, id4)
	}
	in6 := in3
	in6.AdvisoriesDigest = "sha256:" + strings.Repeat("b", 64)
	if p6, _ := ProvenancePredicateOf(in6); p6.RunDetails.Metadata.InvocationID == id3 {
		t.Error("derived invocation id does not change with the advisories")
	}
	if p5, _ := ProvenancePredicateOf(in3); p5.RunDetails.Metadata.InvocationID != id3 {
		t.Error("derived invocation id is not stable")
	}

	for name, mutate := range map[string]func(*Provenance){
		"no spec ref":        func(p *Provenance) { p.SpecRef = "" },
		"no compiled digest": func(p *Provenance) { p.CompiledSpecDigest = "" },
		"bad checksum":       func(p *Provenance) { p.Packages = []Package{{Name: "a", Version: "1", Checksum: "md5:x"}} },
		"file digest not sha256": func(p *Provenance) {
			p.Packages = []Package{{Name: "a", Version: "1", Checksum: "Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc=", FileDigest: "sha1:0a0b0f3d3e5a60718293a4b5c6d7e8f901234567"}}
		},
		"unknown source": func(p *Provenance) {
			p.Packages = []Package{{Name: "a", Version: "1", Checksum: "Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc=", Source: "cdn"}}
		},
		"no checksum": func(p *Provenance) { p.Packages = []Package{{Name: "a", Version: "1"}} },
		"no subjects": func(p *Provenance) { p.Subjects = nil },
	} {
		p := testProvenance(t)
		mutate(&p)
		if _, err := ProvenanceStatement(p); err == nil {
			t.Errorf("ProvenanceStatement %s: want an error", name)
		}
	}
}

func TestPackageURL(t *testing.T) {
	cases := []struct {
		distro string
		p      Package
		want   string
	}{
		{"wolfi", Package{Name: "glibc", Version: "2.42-r1", Arch: "aarch64"}, "pkg:apk/wolfi/glibc@2.42-r1?arch=aarch64"},
		{"alpine-3.22", Package{Name: "musl", Version: "1.2.5-r10", Arch: "x86_64", Repository: "https://dl-cdn.alpinelinux.org/alpine/v3.22/main"},
			"pkg:apk/alpine/musl@1.2.5-r10?arch=x86_64&distro=alpine-3.22&repository_url=https%3A%2F%2Fdl-cdn.alpinelinux.org%2Falpine%2Fv3.22%2Fmain"},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, PackageURL(tc.distro, tc.p)); diff != "" {
			t.Errorf("PackageURL(%s, %s) (-want +got):\n%s", tc.distro, tc.p.Name, diff)
		}
	}
}

func TestChecksumDigest(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
	}{
		{"Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc=", map[string]string{"sha1": "0a0b0f3d3e5a60718293a4b5c6d7e8f901234567"}},
		{"sha256:" + strings.Repeat("AB", 32), map[string]string{"sha256": strings.Repeat("ab", 32)}},
		{"Q1AAAA", nil},                         // too short for SHA-1
		{"Q2CgsPPT5aYHGCk6S1xtfo+QEjRWc=", nil}, // SHA-1 size under Q2
		{"Q1!!!", nil},
		{"sha256:xyz", nil},
		{"", nil},
		{"deadbeef", nil},
	}
	for _, tc := range cases {
		got, err := ChecksumDigest(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("ChecksumDigest(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ChecksumDigest(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ChecksumDigest(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func readSPDX(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/spdx-x86_64.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSPDXStatement(t *testing.T) {
	_, amd64 := testSubjects(t)
	spdx := readSPDX(t)
	st, err := SPDXStatement([]Subject{amd64}, spdx)
	if err != nil {
		t.Fatal(err)
	}
	if st.PredicateType != "https://spdx.dev/Document" {
		t.Errorf("predicateType = %q", st.PredicateType)
	}
	b, _ := st.Marshal()
	back, err := ParseStatement(b)
	if err != nil {
		t.Fatal(err)
	}
	// The predicate is apko's document, unchanged apart from JSON whitespace.
	var want, got bytes.Buffer
	_ = json.Compact(&want, spdx)
	_ = json.Compact(&got, back.Predicate)
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("predicate (-want +got):\n%s", diff)
	}
	if _, err := SPDXStatement([]Subject{amd64}, []byte(`{"bomFormat":"CycloneDX"}`)); err == nil {
		t.Error("SPDXStatement of a non-SPDX document: want an error")
	}
}

func TestCycloneDX(t *testing.T) {
	spdx := readSPDX(t)
	b, err := CycloneDXFromSPDX(spdx, Tool{Name: "hic", Version: "v0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := CycloneDXFromSPDX(spdx, Tool{Name: "hic", Version: "v0.1.0"})
	if !bytes.Equal(b, b2) {
		t.Error("conversion is not deterministic")
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.BOMFormat != "CycloneDX" {
		t.Errorf("specVersion %v, bomFormat %q; want 1.6, CycloneDX", bom.SpecVersion, bom.BOMFormat)
	}
	if !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || len(bom.SerialNumber) != len("urn:uuid:")+36 {
		t.Errorf("serialNumber = %q", bom.SerialNumber)
	}
	if bom.Metadata == nil || bom.Metadata.Timestamp != "2026-01-02T03:04:05Z" {
		t.Fatalf("metadata = %+v, want the SPDX creation time", bom.Metadata)
	}
	if mc := bom.Metadata.Component; mc == nil || mc.Type != cdx.ComponentTypeContainer ||
		mc.PackageURL != "pkg:oci/image@sha256%3A1111111111111111111111111111111111111111111111111111111111111111?arch=amd64&os=linux" {
		t.Errorf("metadata.component = %+v, want the image", mc)
	}
	type comp struct {
		Ref, Type, Name, Version, PURL, License, Supplier string
		Hashes                                            []cdx.Hash
	}
	var got []comp
	for _, c := range *bom.Components {
		cc := comp{Ref: c.BOMRef, Type: string(c.Type), Name: c.Name, Version: c.Version, PURL: c.PackageURL}
		if c.Licenses != nil {
			cc.License = (*c.Licenses)[0].Expression
		}
		if c.Supplier != nil {
			cc.Supplier = c.Supplier.Name
		}
		if c.Hashes != nil {
			cc.Hashes = *c.Hashes
		}
		got = append(got, cc)
	}
	want := []comp{
		{Ref: "SPDXRef-OperatingSystem-wolfi", Type: "operating-system", Name: "wolfi", Version: "20230201", Supplier: "hic"},
		{Ref: "SPDXRef-Package-busybox-1.37.0-r0", Type: "library", Name: "busybox", Version: "1.37.0-r0",
			PURL: "pkg:apk/wolfi/busybox@1.37.0-r0?arch=x86_64", License: "GPL-2.0-only", Supplier: "Wolfi",
			Hashes: []cdx.Hash{{Algorithm: cdx.HashAlgoSHA1, Value: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"}}},
		{Ref: "SPDXRef-Package-ca-certificates-bundle-20250101-r0", Type: "library", Name: "ca-certificates-bundle", Version: "20250101-r0",
			PURL: "pkg:apk/wolfi/ca-certificates-bundle@20250101-r0?arch=x86_64", License: "MPL-2.0 AND MIT", Supplier: "Wolfi"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
	if bom.Dependencies == nil || len(*bom.Dependencies) != 3 {
		t.Errorf("dependencies = %+v, want 3 entries", bom.Dependencies)
	}

	_, amd64 := testSubjects(t)
	st, err := CycloneDXStatement([]Subject{amd64}, spdx, Tool{Name: "hic"})
	if err != nil {
		t.Fatal(err)
	}
	if st.PredicateType != "https://cyclonedx.org/bom" {
		t.Errorf("predicateType = %q", st.PredicateType)
	}
}

func TestHardeningReport(t *testing.T) {
	_, amd64 := testSubjects(t)
	in := Hardening{
		Subjects:   []Subject{amd64},
		SpecRef:    "nginx:1.29-wolfi-runtime",
		Rules:      []string{"nonroot", "no-shell", "no-setuid", "multi-arch", "entrypoint-exists"},
		Exceptions: []compile.Exception{{Rule: "multi-arch", Reason: "upstream ships amd64 only"}},
		Findings: []finding.Finding{
			{Rule: "no-setuid", Severity: finding.Error, Ref: "nginx:1.29-wolfi-runtime", Message: "/usr/bin/su is setuid"},
			{Rule: "no-shell", Severity: finding.Error, Waived: true, Reason: "entrypoint script", Message: "/bin/sh present"},
			{Rule: "entrypoint-exists", Severity: finding.Warning, Message: "odd"},
		},
	}
	r, err := HardeningReportOf(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []RuleResult{
		{Rule: "entrypoint-exists", Status: "pass", Findings: 1},
		{Rule: "multi-arch", Status: "waived", Reason: "upstream ships amd64 only"},
		{Rule: "no-setuid", Status: "fail", Findings: 1},
		{Rule: "no-shell", Status: "waived", Reason: "entrypoint script", Findings: 1},
		{Rule: "nonroot", Status: "pass"},
	}
	if diff := cmp.Diff(want, r.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if r.Result != "fail" || len(r.Findings) != 3 {
		t.Errorf("result %q with %d findings, want fail with 3", r.Result, len(r.Findings))
	}

	in.Findings = in.Findings[1:]
	r, _ = HardeningReportOf(in)
	if r.Result != "pass" {
		t.Errorf("result without failing findings = %q, want pass", r.Result)
	}
	st, err := HardeningStatement(in)
	if err != nil {
		t.Fatal(err)
	}
	if st.PredicateType != "https://hic.dev/attestations/hardening/v1" {
		t.Errorf("predicateType = %q", st.PredicateType)
	}
	var back HardeningReport
	if err := json.Unmarshal(st.Predicate, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, &back); diff != "" {
		t.Errorf("predicate round trip (-want +got):\n%s", diff)
	}
	if _, err := HardeningReportOf(Hardening{}); err == nil {
		t.Error("HardeningReportOf without spec ref: want an error")
	}
}

func TestForImageCancelled(t *testing.T) {
	// Cancelled contexts stop ForImage before it signs.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	index, amd64 := testSubjects(t)
	_, err := ForImage(ctx, nil, ImageInput{
		Image:      Image{Index: index, Platforms: []Platform{{Platform: "linux/amd64", Manifest: amd64, SPDX: readSPDX(t)}}},
		Provenance: testProvenance(t),
	})
	if err == nil {
		t.Error("ForImage with a cancelled context: want an error")
	}
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
