package diff

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/compiler/vex"
)

// TestAddVEX (review D1 §2): an advisory about a package an image installs
// only as a dependency, which the universe knows, changes the image's
// statements; the compiled form is the same on both sides, so the spec
// becomes changed. An unpinned package's fixed advisory says the installed
// version decides.
func TestAddVEX(t *testing.T) {
	u, err := universe.Read(strings.NewReader("@universe 1\n@distro wolfi\n@arch x86_64\n"+
		"nginx 1.29.3-r0 d=pcre2,so:libssl.so.3\nopenssl 3.5.0-r0 p=so:libssl.so.3\npcre2 10.44-r0\nwolfi-baselayout 1-r0\n"), "wolfi.txt")
	if err != nil {
		t.Fatal(err)
	}
	const ref = "nginx:1.29-wolfi-runtime"
	img := nginx(ref)
	pkgs := ImagePackages(img, u)
	if diff := cmp.Diff(map[string]string{"wolfi-baselayout": "", "nginx": "1.29.3-r0", "pcre2": "", "openssl": ""}, pkgs); diff != "" {
		t.Errorf("ImagePackages (-want +got):\n%s", diff)
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	base := &vex.Advisories{ByPackage: map[string][]*vex.Advisory{
		"pcre2": {{Package: "pcre2", ID: "CVE-2026-0003", Status: "fixed", Fixed: "10.44-r0", Published: day}},
	}}
	head := &vex.Advisories{ByPackage: map[string][]*vex.Advisory{
		"pcre2":   base.ByPackage["pcre2"],
		"openssl": {{Package: "openssl", ID: "CVE-2026-0004", Status: "not_affected", Justification: "vulnerable_code_not_present", Impact: "no QUIC", Published: day}},
	}}
	d, err := Compare(map[string]compile.Image{ref: img}, map[string]compile.Image{ref: img})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Empty() {
		t.Fatalf("the same image differs: %+v", d)
	}
	p := map[string]map[string]string{ref: pkgs}
	if err := d.AddVEX(VEXSide{base, p}, VEXSide{head, p}); err != nil {
		t.Fatal(err)
	}
	want := []SpecDiff{{Ref: ref, Changes: []Change{{Field: FieldVEX, Key: "CVE-2026-0004 openssl", Kind: Added,
		New: "CVE-2026-0004 openssl: not_affected (vulnerable_code_not_present): no QUIC; published 2026-03-01"}}}}
	if diff := cmp.Diff(want, d.Changed); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if d.Unchanged != 0 || len(d.Advisories) != 1 || d.Empty() {
		t.Errorf("unchanged %d, advisories %+v, empty %v: want 0, the openssl one, false", d.Unchanged, d.Advisories, d.Empty())
	}
	line, err := statementLine(base.ByPackage["pcre2"][0], "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "CVE-2026-0003 pcre2: fixed in 10.44-r0 (affected if the image installs an older version); published 2026-03-01"; line != want {
		t.Errorf("statement of an unpinned package: %q, want %q", line, want)
	}
}
