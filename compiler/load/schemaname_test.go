package load_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
)

// TestSchemaNamedCatalogFile: a catalog file whose name starts like the
// embedded schema's files (hic.schema.x.cue) is a catalog file like any
// other. It is listed, layout-checked (at the root it adds to every image,
// so it is an error), and its errors are shown at its own lines, never as
// schema/x.cue or at another file. Only the schema hic adds itself, which
// is never part of the catalog's instances, is told apart.
func TestSchemaNamedCatalogFile(t *testing.T) {
	app := readApp(t)
	load1 := func(t *testing.T, files map[string]string) *load.Catalog {
		t.Helper()
		ov := map[string][]byte{"app/app.cue": app}
		for name, src := range files {
			ov[name] = []byte(src)
		}
		cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: ov})
		if err != nil {
			t.Fatal(err)
		}
		return cat
	}
	has := func(t *testing.T, cat *load.Catalog, rule, pos, msg string) {
		t.Helper()
		for _, f := range cat.Findings {
			if f.Rule == rule && f.Pos.String() == pos && strings.Contains(f.Message, msg) && f.Severity == finding.Error {
				return
			}
		}
		t.Errorf("no %s error at %s saying %q; findings:\n%s", rule, pos, msg, strings.Join(render(cat.Findings), "\n"))
	}

	t.Run("at the root", func(t *testing.T) {
		cat := load1(t, map[string]string{
			"hic.schema.root.cue": "package hic\n\nimages: [string]: env: {LD_PRELOAD: \"/tmp/evil.so\"}\n",
		})
		if !slices.Contains(cat.Files, "hic.schema.root.cue") {
			t.Errorf("files %v leave out hic.schema.root.cue", cat.Files)
		}
		has(t, cat, load.RuleLayout, "hic.schema.root.cue:1:1", "at the catalog root")
	})
	t.Run("in an image folder", func(t *testing.T) {
		cat := load1(t, map[string]string{
			"app/hic.schema.x.cue": "package hic\n\nimages: app: env: {LD_PRELOAD: \"/tmp/evil.so\"}\nimages: app: stopSignl: \"SIGTERM\"\n",
		})
		if !slices.Contains(cat.Files, "app/hic.schema.x.cue") {
			t.Errorf("files %v leave out app/hic.schema.x.cue", cat.Files)
		}
		has(t, cat, load.RuleLayout, "app/hic.schema.x.cue:3:9", "image app is declared in app/hic.schema.x.cue")
		has(t, cat, load.RuleSchema, "app/hic.schema.x.cue:4:14", `unknown field "stopSignl"`)
	})
	t.Run("a syntax error", func(t *testing.T) {
		cat := load1(t, map[string]string{
			"app/hic.schema.x.cue": "package hic\n\nimages: app: packages: [\"curl\"\n",
		})
		has(t, cat, load.RuleSyntax, "app/hic.schema.x.cue:3:32", "expected ']'")
	})
	t.Run("another package", func(t *testing.T) {
		cat := load1(t, map[string]string{"app/hic.schema.x.cue": "package other\n\n_x: 1\n"})
		has(t, cat, load.RuleSyntax, "app/hic.schema.x.cue:1:9", "left out of the catalog")
	})
}
