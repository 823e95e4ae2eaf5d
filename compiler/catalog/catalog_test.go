package catalog

import (
	"os"
	"path/filepath"
	"strings"
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

// FindRoot: the nearest cue.mod at or above the path; a directory without
// one is its own root; a file without one is in no catalog, and its
// directory (/tmp, say) is not read as one.
func TestFindRoot(t *testing.T) {
	d := t.TempDir()
	for _, p := range []string{"cat/cue.mod/module.cue", "cat/nginx/nginx.cue", "loose/lone.cue"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(d, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, p), []byte("package hic\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ path, root, err string }{
		{"cat", "cat", ""},
		{"cat/nginx", "cat", ""},
		{"cat/nginx/nginx.cue", "cat", ""},
		{"loose", "loose", ""},
		{"loose/lone.cue", "", "a file outside any catalog (no cue.mod in " + filepath.Join(d, "loose") + " or above)"},
		{"nosuch", "", "no such file or directory"},
	} {
		root, err := FindRoot(filepath.Join(d, c.path))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("FindRoot(%s) = %q, %v; want error %q", c.path, root, err, c.err)
		case c.err == "" && (err != nil || root != filepath.Join(d, c.root)):
			t.Errorf("FindRoot(%s) = %q, %v; want %s", c.path, root, err, c.root)
		}
	}
}
