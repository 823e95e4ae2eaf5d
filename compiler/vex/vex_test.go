package vex

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	govex "github.com/openvex/go-vex/pkg/vex"
)

func writeCatalog(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, src := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const goodAdvisories = `package hic

advisories: openssl: [{
	id:            "CVE-2026-0001"
	status:        "not_affected"
	justification: "vulnerable_code_not_in_execute_path"
	impact:        "the images never call the affected API"
	published:     "2026-05-01"
}, {
	id:        "CVE-2026-0002"
	status:    "fixed"
	fixed:     "3.5.1-r0"
	published: "2026-05-02T10:00:00Z"
	updated:   "2026-05-03"
}]
advisories: busybox: [{
	id:        "GHSA-2345-6789-cfgh"
	status:    "under_investigation"
	published: "2026-05-04"
}]
`

func TestLoadAndCheckGood(t *testing.T) {
	root := writeCatalog(t, map[string]string{"advisories/openssl.cue": goodAdvisories})
	adv, fs, err := Load(context.Background(), root)
	if err != nil || len(fs) > 0 {
		t.Fatalf("Load: %v %v", err, fs)
	}
	if got := len(adv.All()); got != 3 {
		t.Fatalf("want 3 advisories, got %d", got)
	}
	if fs := Check(adv, VersionSet{"openssl": {"3.5.0-r0", "3.5.1-r0"}}); len(fs) > 0 {
		t.Errorf("Check: %v", fs)
	}
	a := adv.For("openssl")[1]
	if want := time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC); !a.Published.Equal(want) {
		t.Errorf("published = %v, want %v", a.Published, want)
	}
	if got := a.FieldPos("fixed").String(); got != "advisories/openssl.cue:12:2" {
		t.Errorf("fixed at %s", got)
	}
}

func TestCheckBad(t *testing.T) {
	root := writeCatalog(t, map[string]string{"advisories/bad.cue": `package hic

advisories: curl: [{
	id:        "CVE-2026-1"
	status:    "maybe"
	published: "2026-05-01"
}, {
	id:        "CVE-2026-0003"
	status:    "not_affected"
	published: "2026-05-01"
}, {
	id:            "CVE-2026-0004"
	status:        "not_affected"
	justification: "trust_me"
	published:     "2026-05-01"
}, {
	id:        "CVE-2026-0005"
	status:    "fixed"
	fixed:     "9.9.9-r0"
	published: "2026-05-01"
}, {
	id:        "CVE-2026-0006"
	status:    "affected"
	published: "2026-05-01"
}, {
	id:        "CVE-2026-0006"
	status:    "under_investigation"
	published: "someday"
}]
`})
	adv, fs, err := Load(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	fs = append(fs, Check(adv, VersionSet{"curl": {"8.1.0-r0"}})...)
	var got []string
	for _, f := range fs {
		got = append(got, f.Pos.String()+": "+f.Message)
	}
	want := []string{
		`advisories/bad.cue:4:2: curl CVE-2026-1: id "CVE-2026-1" is neither a CVE nor a GHSA id`,
		`advisories/bad.cue:5:2: curl CVE-2026-1: unknown status "maybe"`,
		`advisories/bad.cue:9:2: curl CVE-2026-0003: status not_affected needs a justification`,
		`advisories/bad.cue:14:2: curl CVE-2026-0004: unknown justification "trust_me"`,
		`advisories/bad.cue:19:2: curl CVE-2026-0005: fixed version 9.9.9-r0 of curl does not exist`,
		`advisories/bad.cue:23:2: curl CVE-2026-0006: status affected needs an action`,
		`advisories/bad.cue:26:2: curl CVE-2026-0006: CVE-2026-0006 is stated twice for curl (first at advisories/bad.cue:21:4)`,
		`advisories/bad.cue:28:2: curl CVE-2026-0006: published "someday": want a date (2026-05-01) or an RFC 3339 time (2026-05-01T12:00:00Z)`,
	}
	sortStrings(got)
	sortStrings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	for _, f := range fs {
		if f.Rule != Rule || f.Hint == "" && !strings.Contains(f.Message, "published") {
			t.Errorf("finding %v: want rule %s with a hint", f, Rule)
		}
	}
}

func TestLoadSchemaErrors(t *testing.T) {
	root := writeCatalog(t, map[string]string{"advisories/x.cue": `package hic

advisories: zlib: [{
	id:        "CVE-2026-0007"
	status:    "affected"
	action:    "upgrade"
	publishd:  "2026-05-01"
}]
`})
	_, fs, err := Load(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) == 0 {
		t.Fatal("a misspelt field loaded without a finding")
	}
	var lines []string
	for _, f := range fs {
		lines = append(lines, f.Pos.String()+" "+f.Message)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "advisories/x.cue:7:") {
		t.Errorf("want a finding at advisories/x.cue:7 (the misspelt field), got\n%s", strings.Join(lines, "\n"))
	}
}

func TestDocument(t *testing.T) {
	root := writeCatalog(t, map[string]string{"advisories/openssl.cue": goodAdvisories})
	adv, _, err := Load(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	in := Input{
		Repository: "nginx", Digest: "sha256:" + strings.Repeat("a", 64), Distro: "wolfi", Timestamp: built,
		Platforms: []Platform{
			{Platform: "linux/amd64", Packages: []Package{{"openssl", "3.5.0-r0", "x86_64"}, {"nginx", "1.29.0-r0", "x86_64"}}},
			{Platform: "linux/arm64", Packages: []Package{{"openssl", "3.5.0-r0", "aarch64"}, {"nginx", "1.29.0-r0", "aarch64"}}},
		},
	}
	doc, err := Document(adv, in)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := doc.ToJSON(&buf); err != nil {
		t.Fatal(err)
	}
	// Read back and validate with the OpenVEX library.
	back, err := govex.Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("go-vex cannot parse the document: %v\n%s", err, buf.String())
	}
	if back.Context != govex.ContextLocator() || back.Author != Author || !back.Timestamp.Equal(built) {
		t.Errorf("metadata: %+v", back.Metadata)
	}
	got := map[string]string{}
	for _, st := range back.Statements {
		if err := st.Validate(); err != nil {
			t.Errorf("statement %s: %v", st.Vulnerability.Name, err)
		}
		got[string(st.Vulnerability.Name)] = string(st.Status)
		if len(st.Products) != 1 || len(st.Products[0].Subcomponents) != 2 {
			t.Errorf("statement %s: want one product with two subcomponents, got %+v", st.Vulnerability.Name, st.Products)
		}
	}
	// openssl 3.5.0-r0 is before the fix 3.5.1-r0: affected; busybox is not in the image.
	if d := cmp.Diff(map[string]string{"CVE-2026-0001": "not_affected", "CVE-2026-0002": "affected"}, got); d != "" {
		t.Errorf("statements (-want +got):\n%s", d)
	}
	if m := back.Matches("CVE-2026-0001", "pkg:oci/nginx@sha256:"+strings.Repeat("a", 64), []string{"pkg:apk/wolfi/openssl@3.5.0-r0?arch=x86_64"}); len(m) != 1 {
		t.Errorf("go-vex Matches the image and package: got %d statements, want 1", len(m))
	}

	// The fixed version installed: fixed. Same input, same document.
	in.Platforms = in.Platforms[:1]
	in.Platforms[0].Packages[0].Version = "3.5.1-r0"
	d1, _ := Document(adv, in)
	d2, _ := Document(adv, in)
	if d1.ID != d2.ID {
		t.Errorf("document id not reproducible: %s vs %s", d1.ID, d2.ID)
	}
	if st := d1.StatementsByVulnerability("CVE-2026-0002"); len(st) != 1 || st[0].Status != govex.StatusFixed {
		t.Errorf("with the fixed version: %+v", st)
	}
	// A document is never issued before what it states: built before its
	// newest statement (CVE-2026-0002, updated 2026-05-03), it bears that time.
	in.Timestamp = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	early, err := Document(adv, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC); !early.Timestamp.Equal(want) {
		t.Errorf("document built 2025-01-01 with a statement updated %s: timestamp %s", want, early.Timestamp)
	}
	j, _ := json.Marshal(d1)
	if !strings.Contains(string(j), `"pkg:apk/wolfi/openssl@3.5.1-r0?arch=x86_64"`) {
		t.Errorf("document names the package by purl: %s", j)
	}
}

func sortStrings(ss []string) {
	for i := range ss {
		for j := i + 1; j < len(ss); j++ {
			if ss[j] < ss[i] {
				ss[i], ss[j] = ss[j], ss[i]
			}
		}
	}
}

// DigestFor covers the advisories of the named packages only, whatever
// their order, and changes with any of their fields.
func TestDigestFor(t *testing.T) {
	pub := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	nginx := &Advisory{Package: "nginx", ID: "CVE-2026-0001", Status: "affected", Action: "upgrade", Published: pub}
	zlib := &Advisory{Package: "zlib", ID: "CVE-2026-0002", Status: "fixed", Fixed: "1.3-r0", Published: pub}
	adv := &Advisories{ByPackage: map[string][]*Advisory{"nginx": {nginx}, "zlib": {zlib}}}
	digest := func(a *Advisories, pkgs ...string) string {
		t.Helper()
		d, err := a.DigestFor(pkgs)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := digest(adv, "nginx", "busybox")
	if !strings.HasPrefix(base, "sha256:") || len(base) != 71 {
		t.Fatalf("digest %q", base)
	}
	if d := digest(adv, "busybox", "nginx", "nginx"); d != base {
		t.Errorf("digest depends on the packages' order: %s vs %s", d, base)
	}
	if d := digest(adv, "busybox"); d != "" {
		t.Errorf("no advisory about the packages: digest %q, want none", d)
	}
	if d := digest(nil, "nginx"); d != "" {
		t.Errorf("no advisories: digest %q, want none", d)
	}
	if d := digest(adv, "nginx", "zlib"); d == base {
		t.Error("an advisory of another installed package leaves the digest")
	}
	more := &Advisories{ByPackage: map[string][]*Advisory{"nginx": {nginx}, "zlib": {zlib, {Package: "zlib", ID: "CVE-2026-0003", Status: "affected", Published: pub}}}}
	if d := digest(more, "nginx", "busybox"); d != base {
		t.Error("an advisory of a package not named changes the digest")
	}
	changed := *nginx
	changed.Status, changed.Justification, changed.Action = "not_affected", "vulnerable_code_not_present", ""
	if d := digest(&Advisories{ByPackage: map[string][]*Advisory{"nginx": {&changed}}}, "nginx"); d == base {
		t.Error("a changed status leaves the digest")
	}
}

// twiceWritten is an advisories file with two lists for one package, the
// second with one entry or two: CUE unifies them entry by entry.
func twiceWritten(entries int) string {
	src := "package hic\n\nadvisories: \"nginx-mainline\": [{\n\tid:        \"CVE-2025-23419\"\n\tstatus:    \"fixed\"\n\tfixed:     \"1.31.4-r0\"\n\tpublished: \"2026-12-01\"\n}]\n\nadvisories: \"nginx-mainline\": ["
	for i := range entries {
		if i > 0 {
			src += ", "
		}
		src += "{\n\tid:        \"CVE-2026-9999" + string(rune('0'+i)) + "\"\n\tstatus:    \"affected\"\n\taction:    \"upgrade\"\n\tpublished: \"2026-12-02\"\n}"
	}
	return src + "]\n"
}

// TestAdvisoriesWrittenTwiceHint (review D1 §10): two advisory lists of one
// package conflict; the fix says to add the entry to the existing list,
// not which fields an advisory has.
func TestAdvisoriesWrittenTwiceHint(t *testing.T) {
	for _, n := range []int{1, 2} {
		root := writeCatalog(t, map[string]string{"advisories/nginx.cue": twiceWritten(n)})
		_, fs, err := Load(context.Background(), root)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			t.Fatalf("%d entries: two lists loaded without a finding", n)
		}
		for _, f := range fs {
			if !strings.Contains(f.Hint, `the advisories of "nginx-mainline" are written as two lists`) || !strings.Contains(f.Hint, "add the entry to the existing list") {
				t.Errorf("%d entries: %s: %s: fix %q, want one that says to add the entry to the existing list", n, f.Pos, f.Message, f.Hint)
			}
		}
	}
}
