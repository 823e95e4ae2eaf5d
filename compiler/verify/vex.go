package verify

import (
	"context"
	"fmt"
	"strings"

	govex "github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"

	"github.com/hic-build/hic/compiler/vex"
)

// CheckVEX names the OpenVEX check.
const CheckVEX = "vex"

// vexDocument: the signed OpenVEX document about the index parses with the
// OpenVEX library, every statement is valid OpenVEX, is about this image
// (its pkg:oci product names the index digest) and names as subcomponents
// only packages installed in it (the apk databases); with the catalog's
// advisories (Options.Advisories), the document states exactly the
// advisories about the installed packages.
func (v *verification) vexDocument(ctx context.Context) Check {
	sts, c, ok := v.indexStatements(CheckVEX, vex.PredicateType, "OpenVEX document")
	if !ok {
		return c
	}
	installed := map[string]bool{} // name@version
	for _, p := range v.plats {
		for _, q := range p.db {
			installed[q.Name+"@"+q.Version] = true
		}
	}
	var bad []string
	stated := map[string]bool{} // package id
	n := 0
	for _, st := range sts {
		doc, err := govex.Parse(st.Predicate)
		if err != nil {
			bad = append(bad, fmt.Sprintf("OpenVEX document: %v", err))
			continue
		}
		for _, s := range doc.Statements {
			n++
			id := string(s.Vulnerability.Name)
			if err := s.Validate(); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", id, err))
			}
			for _, p := range s.Products {
				if !strings.Contains(p.ID, v.t.Digest.String()) && !strings.Contains(p.ID, strings.ReplaceAll(v.t.Digest.String(), ":", "%3A")) {
					bad = append(bad, fmt.Sprintf("%s: product %s is not this image (%s)", id, p.ID, short(v.t.Digest)))
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
					stated[pu.Name+" "+id] = true
				}
			}
		}
	}
	if v.opts.Advisories != nil && len(bad) == 0 {
		adv, err := v.opts.Advisories(ctx)
		if err != nil {
			bad = append(bad, fmt.Sprintf("catalog advisories: %v", err))
		} else {
			want := map[string]bool{}
			for _, p := range v.plats {
				for _, q := range p.db {
					for _, a := range adv.For(q.Name) {
						want[q.Name+" "+a.ID] = true
					}
				}
			}
			missing, extra := missingExtra(want, stated)
			if len(missing) > 0 {
				bad = append(bad, "the catalog's advisories about installed packages missing: "+strings.Join(missing, ", "))
			}
			if len(extra) > 0 {
				bad = append(bad, "statements the catalog has no advisory for: "+strings.Join(extra, ", "))
			}
		}
	}
	return failures(CheckVEX, bad, func() Check {
		return pass(CheckVEX, "OpenVEX document with %d statements about installed packages", n)
	})
}
