package load_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/load"
)

// TestPinnedPackageHint: a version written into packages (or package) is a
// schema error whose fix says why: packages are names, resolved when the
// image is built and recorded in its lock; only the main package is pinned,
// by each stream's version. Not "see schema/image.cue for the type".
func TestPinnedPackageHint(t *testing.T) {
	app := string(readApp(t))
	for _, tt := range []struct {
		name, old, new string
		at, hint       string
	}{
		{"packages", `packages: ["libssl3", "ca-certificates-bundle"]`, `packages: ["libssl3", "curl=8.21.0-r0"]`,
			"app/app.cue:12:24", "packages takes package names only"},
		{"packages with a range", `packages: ["libssl3", "ca-certificates-bundle"]`, `packages: ["curl>=8"]`,
			"app/app.cue:12:13", "only the main package, package, is pinned, by each stream's version"},
		{"package", `package: "app"`, `package: "app=2.1.4-r1"`,
			"app/app.cue:11:11", "each stream pins it with version"},
		{"stream package", `"2.1": {version:`, `"2.1": {package: "app=2.1.4-r1", version:`,
			"app/app.cue:15:20", "each stream pins it with version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(app, tt.old, tt.new, 1)
			if src == app {
				t.Fatalf("%q is not in testdata/app.cue", tt.old)
			}
			cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: map[string][]byte{"app/app.cue": []byte(src)}})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range cat.Findings {
				if f.Pos.String() != tt.at {
					continue
				}
				found = true
				if f.Rule != load.RuleSchema || !strings.Contains(f.Hint, tt.hint) || strings.Contains(f.Hint, "for the type of this field") {
					t.Errorf("%s: %s: %s (fix: %s), want a schema finding whose fix says %q", f.Pos, f.Rule, f.Message, f.Hint, tt.hint)
				}
			}
			if !found {
				t.Errorf("no finding at %s: %s", tt.at, strings.Join(render(cat.Findings), "\n"))
			}
		})
	}
}

// TestPackageNameHint: a package name that is no name, without a version,
// keeps the schema's fix.
func TestPackageNameHint(t *testing.T) {
	src := strings.Replace(string(readApp(t)), `"ca-certificates-bundle"]`, `"ca certificates"]`, 1)
	cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: map[string][]byte{"app/app.cue": []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Findings) != 1 || strings.Contains(cat.Findings[0].Hint, "names only") {
		t.Errorf("findings: %s, want one with the schema's fix", strings.Join(render(cat.Findings), "\n"))
	}
}

// TestAdvisoriesWrittenTwiceHint (review D1 §10): two advisory lists of one
// package conflict when the catalog evaluates; the finding says the values
// conflict (neither is the schema's) and its fix says to add the entry to
// the existing list, not "see schema/image.cue".
func TestAdvisoriesWrittenTwiceHint(t *testing.T) {
	const first = "package hic\n\nadvisories: \"nginx-mainline\": [{\n\tid:        \"CVE-2025-23419\"\n\tstatus:    \"fixed\"\n\tfixed:     \"1.31.4-r0\"\n\tpublished: \"2026-12-01\"\n}]\n"
	entry := func(id string) string {
		return "{\n\tid:        \"" + id + "\"\n\tstatus:    \"affected\"\n\taction:    \"upgrade\"\n\tpublished: \"2026-12-02\"\n}"
	}
	for name, second := range map[string]string{
		"one entry":   "[" + entry("CVE-2026-99999") + "]",
		"two entries": "[" + entry("CVE-2026-99998") + ", " + entry("CVE-2026-99999") + "]",
	} {
		t.Run(name, func(t *testing.T) {
			src := first + "\nadvisories: \"nginx-mainline\": " + second + "\n"
			cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: map[string][]byte{
				"app/app.cue": readApp(t), "advisories/nginx.cue": []byte(src)}})
			if err != nil {
				t.Fatal(err)
			}
			if len(cat.Findings) == 0 {
				t.Fatal("two advisory lists of one package loaded without a finding")
			}
			for _, f := range cat.Findings {
				if !strings.Contains(f.Hint, "add the entry to the existing list") || strings.Contains(f.Message, "expected \"CVE") {
					t.Errorf("%s: %s: %s (fix: %s), want a fix that says to add the entry to the existing list", f.Pos, f.Rule, f.Message, f.Hint)
				}
			}
		})
	}
}
