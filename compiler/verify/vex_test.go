package verify

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/vex"
)

const vexDB = `C:Q1Z2lO8Xr0Xk1RLGVwHq4nJRLrsvE=
P:busybox
V:1.37.0-r0
A:x86_64

C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=
P:nginx-mainline
V:1.31.4-r0
A:x86_64
`

// TestCheckVEXDocs: the vex check compares every statement with the one
// the build makes from the catalog's advisories, field by field, and
// refuses two signed documents that disagree about one package and
// vulnerability. (From an outside review: a document saying not_affected
// where the catalog says affected passed, and so did an old contradicting
// document a republish had left among the referrers.)
func TestCheckVEXDocs(t *testing.T) {
	pkgs, err := inspect.ParseInstalled([]byte(vexDB))
	if err != nil {
		t.Fatal(err)
	}
	// Two platforms: a statement names each package once per arch.
	arm := slices.Clone(pkgs)
	for i := range arm {
		arm[i].Arch = "aarch64"
	}
	plats := []*platformImage{{platform: "linux/amd64", arch: "x86_64", db: pkgs}, {platform: "linux/arm64", arch: "aarch64", db: arm}}
	digest := mustHash("sha256:" + strings.Repeat("7b", 32))
	pub := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	catalog := func(as ...*vex.Advisory) *vex.Advisories {
		adv := &vex.Advisories{ByPackage: map[string][]*vex.Advisory{}}
		for _, a := range as {
			adv.ByPackage[a.Package] = append(adv.ByPackage[a.Package], a)
		}
		return adv
	}
	fixed := &vex.Advisory{Package: "nginx-mainline", ID: "CVE-2026-11111", Status: "fixed", Fixed: "1.31.2-r0", Published: pub}
	affected := &vex.Advisory{Package: "nginx-mainline", ID: "CVE-2026-99999", Status: "affected", Action: "upgrade when 1.31.5 lands", Published: pub}
	notAffected := &vex.Advisory{Package: "nginx-mainline", ID: "CVE-2026-99999", Status: "not_affected", Justification: "vulnerable_code_not_present", Impact: "the module is not built", Published: pub}
	later := &vex.Advisory{Package: "nginx-mainline", ID: "CVE-2026-11111", Status: "fixed", Fixed: "1.31.5-r0", Published: pub}
	good, catA, catLater := catalog(fixed, affected), catalog(fixed, notAffected), catalog(later, affected)
	// doc is the document the build makes from the catalog adv.
	doc := func(adv *vex.Advisories) *govex.VEX {
		in := vex.Input{Repository: "nginx", Digest: digest.String(), Distro: "wolfi", Timestamp: pub}
		for _, p := range plats {
			vp := vex.Platform{Platform: p.platform}
			for _, q := range p.db {
				vp.Packages = append(vp.Packages, vex.Package{Name: q.Name, Version: q.Version, Arch: q.Arch})
			}
			in.Platforms = append(in.Platforms, vp)
		}
		d, err := vex.Document(adv, in)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	docA, docGood := doc(catA), doc(good)
	for _, tc := range []struct {
		name string
		docs []*govex.VEX
		adv  *vex.Advisories
		want []string
	}{
		{"as the catalog says", []*govex.VEX{docGood}, good, nil},
		{"identical duplicates", []*govex.VEX{docGood, doc(good)}, good, nil},
		{"status differs from the catalog's", []*govex.VEX{docA}, good, []string{
			`nginx-mainline CVE-2026-99999: status: the catalog says affected, the signed VEX says not_affected`,
			`nginx-mainline CVE-2026-99999: justification: the catalog says none, the signed VEX says vulnerable_code_not_present`,
			`nginx-mainline CVE-2026-99999: impact_statement: the catalog says none, the signed VEX says "the module is not built"`,
			`nginx-mainline CVE-2026-99999: action_statement: the catalog says "upgrade when 1.31.5 lands", the signed VEX says none`,
		}},
		{"fixed version differs from the catalog's", []*govex.VEX{docGood}, catLater, []string{
			`nginx-mainline CVE-2026-11111: status: the catalog says affected, the signed VEX says fixed`,
			`nginx-mainline CVE-2026-11111: action_statement: the catalog says "upgrade nginx-mainline to 1.31.5-r0 or later", the signed VEX says none`,
			`nginx-mainline CVE-2026-11111: status_notes: the catalog says "fixed in nginx-mainline 1.31.5-r0; this image has an older version", the signed VEX says "fixed in nginx-mainline 1.31.2-r0"`,
		}},
		{"two documents disagree", []*govex.VEX{docA, docGood}, good, []string{
			"two signed OpenVEX documents disagree about nginx-mainline CVE-2026-99999: document " + docA.ID +
				` says status not_affected, justification vulnerable_code_not_present, impact_statement "the module is not built", action_statement none; document ` + docGood.ID +
				` says status affected, justification none, impact_statement none, action_statement "upgrade when 1.31.5 lands"` + staleVEXHint,
		}},
		{"two documents disagree, no catalog", []*govex.VEX{docGood, docA}, nil, []string{
			"two signed OpenVEX documents disagree about nginx-mainline CVE-2026-99999: document " + docGood.ID +
				` says status affected, justification none, impact_statement none, action_statement "upgrade when 1.31.5 lands"; document ` + docA.ID +
				` says status not_affected, justification vulnerable_code_not_present, impact_statement "the module is not built", action_statement none` + staleVEXHint,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, n := checkVEXDocs(tc.docs, nil, digest, plats, tc.adv)
			if d := cmp.Diff(tc.want, bad); d != "" {
				t.Errorf("checkVEXDocs (-want +got):\n%s", d)
			}
			if want := 2 * len(tc.docs); n != want {
				t.Errorf("%d statements, want %d", n, want)
			}
		})
	}
}

// TestCheckVEXEachDocument: every signed OpenVEX document states exactly
// what the catalog states. (A stale document that only omitted a CVE, next
// to a newer complete one, was merged with it and passed.)
func TestCheckVEXEachDocument(t *testing.T) {
	pkgs, err := inspect.ParseInstalled([]byte(vexDB))
	if err != nil {
		t.Fatal(err)
	}
	plats := []*platformImage{{platform: "linux/amd64", arch: "x86_64", db: pkgs}}
	digest := mustHash("sha256:" + strings.Repeat("7b", 32))
	pub := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	catalog := func(as ...*vex.Advisory) *vex.Advisories {
		adv := &vex.Advisories{ByPackage: map[string][]*vex.Advisory{}}
		for _, a := range as {
			adv.ByPackage[a.Package] = append(adv.ByPackage[a.Package], a)
		}
		return adv
	}
	doc := func(adv *vex.Advisories) *govex.VEX {
		in := vex.Input{Repository: "nginx", Digest: digest.String(), Distro: "wolfi", Timestamp: pub,
			Platforms: []vex.Platform{{Platform: "linux/amd64"}}}
		for _, q := range pkgs {
			in.Platforms[0].Packages = append(in.Platforms[0].Packages, vex.Package{Name: q.Name, Version: q.Version, Arch: q.Arch})
		}
		d, err := vex.Document(adv, in)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	fixed := &vex.Advisory{Package: "nginx-mainline", ID: "CVE-2026-11111", Status: "fixed", Fixed: "1.31.2-r0", Published: pub}
	affected := &vex.Advisory{Package: "nginx-mainline", ID: "CVE-2026-99999", Status: "affected", Action: "upgrade when 1.31.5 lands", Published: pub}
	busybox := &vex.Advisory{Package: "busybox", ID: "CVE-2026-22222", Status: "affected", Action: "none yet", Published: pub}
	good := catalog(fixed, affected)
	docGood, docOld, docMore := doc(good), doc(catalog(fixed)), doc(catalog(fixed, affected, busybox))
	where := []string{"referrer sha256:aaaa", "referrer sha256:bbbb"}
	for _, tc := range []struct {
		name string
		docs []*govex.VEX
		adv  *vex.Advisories
		want []string
	}{
		{"a complete document and a stale one omitting a CVE", []*govex.VEX{docGood, docOld}, good, []string{
			"document " + docOld.ID + " (referrer sha256:bbbb) does not state nginx-mainline CVE-2026-99999, which the catalog's advisories state" + staleVEXDocHint,
		}},
		{"the stale one first", []*govex.VEX{docOld, docGood}, good, []string{
			"document " + docOld.ID + " (referrer sha256:aaaa) does not state nginx-mainline CVE-2026-99999, which the catalog's advisories state" + staleVEXDocHint,
		}},
		{"a document stating a CVE the catalog has no advisory for", []*govex.VEX{docGood, docMore}, good, []string{
			"document " + docMore.ID + " (referrer sha256:bbbb) states busybox CVE-2026-22222, which the catalog has no advisory for" + staleVEXDocHint,
		}},
		{"two complete documents", []*govex.VEX{docGood, doc(good)}, good, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad, _ := checkVEXDocs(tc.docs, where, digest, plats, tc.adv)
			if d := cmp.Diff(tc.want, bad); d != "" {
				t.Errorf("checkVEXDocs (-want +got):\n%s", d)
			}
		})
	}
}
