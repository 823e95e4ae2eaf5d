package catalog

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/finding"
)

// StaticFindings hands the findings that do not stop a build to the
// hardening report, by spec; failing ones and those of no spec stay out.
func TestStaticFindings(t *testing.T) {
	waived := finding.Finding{Rule: "nonroot", Severity: finding.Error, Ref: "a:1", Waived: true}
	warning := finding.Finding{Rule: "eol-soon", Severity: finding.Warning, Ref: "a:1"}
	c := &Catalog{Findings: []finding.Finding{
		waived,
		warning,
		{Rule: "no-shell", Severity: finding.Error, Ref: "b:1"},
		{Rule: "unique-refs", Severity: finding.Warning},
	}}
	want := map[string][]finding.Finding{"a:1": {waived, warning}}
	if diff := cmp.Diff(want, c.StaticFindings()); diff != "" {
		t.Errorf("StaticFindings (-want +got):\n%s", diff)
	}
}
