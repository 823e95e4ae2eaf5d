package verify

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	govex "github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"

	"github.com/hic-build/hic/compiler/vex"
)

// CheckVEX names the OpenVEX check.
const CheckVEX = "vex"

// vexDocument: the signed OpenVEX documents about the index parse with the
// OpenVEX library, every statement is valid OpenVEX, is about this image
// (its pkg:oci product names the index digest) and names as subcomponents
// only packages installed in it (the apk databases); no two statements (of
// one document or of two, say an old one a republish left among the
// referrers) say different things about one package and vulnerability;
// with the catalog's advisories (Options.Advisories), each document states
// exactly what the build states from them about the installed packages,
// field by field (see vexClaim): a stale one that omits a statement, or
// makes one the catalog does not, beside a complete one, fails, named with
// the referrer it was found in.
func (v *verification) vexDocument(ctx context.Context) Check {
	if _, c, ok := v.indexStatements(CheckVEX, vex.PredicateType, "OpenVEX document"); !ok {
		return c
	}
	var sts []statement
	for _, s := range v.stmts {
		if s.attachedTo == v.t.Digest && s.st.PredicateType == vex.PredicateType {
			sts = append(sts, s)
		}
	}
	var bad []string
	var docs []*govex.VEX
	var where []string
	for _, st := range sts {
		doc, err := govex.Parse(st.st.Predicate)
		if err != nil {
			bad = append(bad, fmt.Sprintf("OpenVEX document (%s): %v", st.where, err))
			continue
		}
		docs = append(docs, doc)
		where = append(where, st.where)
	}
	var adv *vex.Advisories
	if v.opts.Advisories != nil {
		a, err := v.opts.Advisories(ctx)
		if err != nil {
			bad = append(bad, fmt.Sprintf("catalog advisories: %v", err))
		} else {
			adv = a
		}
	}
	more, n := checkVEXDocs(docs, where, v.t.Digest, v.plats, adv)
	bad = append(bad, more...)
	return failures(CheckVEX, bad, func() Check {
		return pass(CheckVEX, "OpenVEX document with %d statements about installed packages", n)
	})
}

// vexClaim is what a statement says about one installed package and one
// vulnerability: every field the build writes (compiler/vex.Document) but
// the product, the subcomponents (the key) and the timestamps.
type vexClaim struct {
	Status, Justification, Impact, Action, Notes, Aliases string
}

// fields are the claim's fields as the check names them.
func (c vexClaim) fields() [][2]string {
	return [][2]string{
		{"status", c.Status}, {"justification", c.Justification}, {"impact_statement", c.Impact},
		{"action_statement", c.Action}, {"status_notes", c.Notes}, {"aliases", c.Aliases},
	}
}

func claimOf(s govex.Statement) vexClaim {
	var al []string
	for _, a := range s.Vulnerability.Aliases {
		al = append(al, string(a))
	}
	sort.Strings(al)
	return vexClaim{Status: string(s.Status), Justification: string(s.Justification), Impact: s.ImpactStatement,
		Action: s.ActionStatement, Notes: s.StatusNotes, Aliases: strings.Join(al, ", ")}
}

// vexKey is one installed package (name and version) and one vulnerability.
type vexKey struct{ name, version, id string }

func (k vexKey) String() string { return k.name + " " + k.id }

// vexDiffer lists how got differs from want, field by field, each as
// "FIELD: WHO says WANT, OTHER says GOT".
func vexDiffer(want, got vexClaim, who, other string) []string {
	var out []string
	g := got.fields()
	for i, f := range want.fields() {
		if f[1] != g[i][1] {
			out = append(out, fmt.Sprintf("%s: %s says %s, %s says %s", f[0], who, showClaim(f[1]), other, showClaim(g[i][1])))
		}
	}
	return out
}

// vexDisagree is what two claims each say in the fields where they differ:
// "status affected, action_statement \"upgrade\"".
func vexDisagree(a, b vexClaim) (aSays, bSays string) {
	var as, bs []string
	bf := b.fields()
	for i, f := range a.fields() {
		if f[1] != bf[i][1] {
			as = append(as, f[0]+" "+showClaim(f[1]))
			bs = append(bs, f[0]+" "+showClaim(bf[i][1]))
		}
	}
	return strings.Join(as, ", "), strings.Join(bs, ", ")
}

func showClaim(s string) string {
	switch {
	case s == "":
		return "none"
	case !bareWord(s):
		return fmt.Sprintf("%q", s)
	}
	return s
}

// bareWord: s is one word (a status, a justification), shown unquoted.
func bareWord(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// staleVEXHint ends the message of two documents that disagree: in a
// registry, the older is most often one an earlier publish left among the
// referrers.
const staleVEXHint = " (one is stale: publishing the image again with hic publish withdraws the attestations it replaces; a registry that refuses deletes keeps them, and the stale referrer must be deleted there)"

// staleVEXDocHint ends the message of a document that states less or more
// than the catalog, beside another that states it all: in a registry, most
// often one an earlier publish left among the referrers.
const staleVEXDocHint = " (a stale document: publishing the image again with hic publish withdraws the attestations it replaces; a registry that refuses deletes keeps them, and the stale referrer must be deleted there)"

// checkVEXDocs checks the statements of the image's signed OpenVEX
// documents (see vexDocument); where says where each was found ("referrer
// sha256:…"; nil: not known); adv nil skips the comparison with the
// catalog. n is the number of statements.
func checkVEXDocs(docs []*govex.VEX, where []string, digest v1.Hash, plats []*platformImage, adv *vex.Advisories) (bad []string, n int) {
	installed := map[string]bool{} // name@version
	for _, p := range plats {
		for _, q := range p.db {
			installed[q.Name+"@"+q.Version] = true
		}
	}
	type said struct {
		claim vexClaim
		doc   int
	}
	stated := map[vexKey]said{}
	type reported struct {
		k       vexKey
		doc, by int
		claim   vexClaim
	}
	seen := map[reported]bool{}
	names := map[string]bool{}                     // package id
	docNames := make([]map[string]bool, len(docs)) // package id, by document
	docName := func(i int) string {
		name := fmt.Sprintf("document %d", i+1)
		if docs[i].ID != "" {
			name = "document " + docs[i].ID
		}
		if i < len(where) && where[i] != "" {
			name += " (" + where[i] + ")"
		}
		return name
	}
	for di, doc := range docs {
		docNames[di] = map[string]bool{}
		for _, s := range doc.Statements {
			n++
			id := string(s.Vulnerability.Name)
			if err := s.Validate(); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", id, err))
			}
			claim := claimOf(s)
			for _, p := range s.Products {
				if !strings.Contains(p.ID, digest.String()) && !strings.Contains(p.ID, strings.ReplaceAll(digest.String(), ":", "%3A")) {
					bad = append(bad, fmt.Sprintf("%s: product %s is not this image (%s)", id, p.ID, short(digest)))
				}
				for _, sc := range p.Subcomponents {
					pu, err := packageurl.FromString(sc.ID)
					if err != nil || pu.Type != "apk" {
						bad = append(bad, fmt.Sprintf("%s: subcomponent %q is not an apk package URL", id, sc.ID))
						continue
					}
					if !installed[pu.Name+"@"+pu.Version] {
						bad = append(bad, fmt.Sprintf("%s: %s %s is not installed in the image", id, pu.Name, pu.Version))
					}
					names[pu.Name+" "+id] = true
					docNames[di][pu.Name+" "+id] = true
					k := vexKey{pu.Name, pu.Version, id}
					prev, ok := stated[k]
					if !ok {
						stated[k] = said{claim, di}
						continue
					}
					if prev.claim == claim {
						continue // the same statement again (another arch, an identical duplicate)
					}
					r := reported{k, prev.doc, di, claim}
					if seen[r] {
						continue // the same disagreement on another arch
					}
					seen[r] = true
					a, b := vexDisagree(prev.claim, claim)
					if prev.doc == di {
						bad = append(bad, fmt.Sprintf("two statements of %s disagree about %s: one says %s, the other says %s", docName(di), k, a, b))
					} else {
						bad = append(bad, fmt.Sprintf("two signed OpenVEX documents disagree about %s: %s says %s; %s says %s%s", k, docName(prev.doc), a, docName(di), b, staleVEXHint))
					}
				}
			}
		}
	}
	if adv == nil || len(bad) > 0 {
		return bad, n
	}
	// What the build states: its own document builder, on the packages the
	// image really has installed.
	in := vex.Input{Repository: "image", Digest: digest.String()}
	for _, p := range plats {
		vp := vex.Platform{Platform: p.platform}
		for _, q := range p.db {
			vp.Packages = append(vp.Packages, vex.Package{Name: q.Name, Version: q.Version, Arch: q.Arch})
		}
		in.Platforms = append(in.Platforms, vp)
	}
	doc, err := vex.Document(adv, in)
	if err != nil {
		return append(bad, fmt.Sprintf("catalog advisories: %v", err)), n
	}
	want := map[string]bool{}
	wantClaims := map[vexKey]vexClaim{}
	for _, s := range doc.Statements {
		for _, p := range s.Products {
			for _, sc := range p.Subcomponents {
				pu, err := packageurl.FromString(sc.ID)
				if err != nil {
					return append(bad, fmt.Sprintf("catalog advisories: %v", err)), n
				}
				k := vexKey{pu.Name, pu.Version, string(s.Vulnerability.Name)}
				want[k.String()] = true
				wantClaims[k] = claimOf(s)
			}
		}
	}
	// What no document states, or every one states though the catalog
	// does not, is said once; what only some documents omit or add is said
	// of each of them (one is stale, see staleVEXDocHint): each document
	// states exactly what the catalog states, none is merged with another.
	missingAll, extra := missingExtra(want, names) // missing: stated by none
	var extraAll []string
	for _, k := range extra {
		if statedByAll(docNames, k) {
			extraAll = append(extraAll, k)
		}
	}
	if len(missingAll) > 0 {
		bad = append(bad, "the catalog's advisories about installed packages missing: "+strings.Join(missingAll, ", "))
	}
	if len(extraAll) > 0 {
		bad = append(bad, "statements the catalog has no advisory for: "+strings.Join(extraAll, ", "))
	}
	for di := range docs {
		m, x := missingExtra(want, docNames[di])
		m = slices.DeleteFunc(m, func(k string) bool { return slices.Contains(missingAll, k) })
		x = slices.DeleteFunc(x, func(k string) bool { return slices.Contains(extraAll, k) })
		if len(m) > 0 {
			bad = append(bad, fmt.Sprintf("%s does not state %s, which the catalog's advisories state%s", docName(di), strings.Join(m, ", "), staleVEXDocHint))
		}
		if len(x) > 0 {
			bad = append(bad, fmt.Sprintf("%s states %s, which the catalog has no advisory for%s", docName(di), strings.Join(x, ", "), staleVEXDocHint))
		}
	}
	keys := make([]vexKey, 0, len(wantClaims))
	for k := range wantClaims {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		if keys[i].id != keys[j].id {
			return keys[i].id < keys[j].id
		}
		return keys[i].version < keys[j].version
	})
	for _, k := range keys {
		got, ok := stated[k]
		if !ok {
			if names[k.String()] { // stated, but not for this version
				bad = append(bad, fmt.Sprintf("%s: no statement about %s %s", k, k.name, k.version))
			}
			continue // else missing, said above
		}
		for _, d := range vexDiffer(wantClaims[k], got.claim, "the catalog", "the signed VEX") {
			bad = append(bad, k.String()+": "+d)
		}
	}
	return bad, n
}

// statedByAll reports whether every document's statements name k.
func statedByAll(docNames []map[string]bool, k string) bool {
	for _, ns := range docNames {
		if !ns[k] {
			return false
		}
	}
	return true
}
