package schema

import (
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
)

func TestLoadTables(t *testing.T) {
	tab, err := LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rules) < 20 {
		t.Errorf("got %d rules, want at least 20", len(tab.Rules))
	}
	for id, r := range tab.Rules {
		if r.Rationale == "" || r.Hint == "" || r.Title == "" {
			t.Errorf("rule %s lacks title, rationale or hint", id)
		}
	}
	if got, want := tab.Distros, []string{"alpine-3.22", "alpine-3.23", "alpine-3.24", "wolfi"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("distros = %v, want %v", got, want)
	}
	if len(tab.Variants) != 2 {
		t.Errorf("variants = %v", tab.Variants)
	}
}

// SourceFile names the schema's files as Evaluate loads them, and nothing
// else: a catalog file that only starts like one (hic.schema.x.cue) is no
// schema file, wherever it is.
func TestSourceFile(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		ok         bool
	}{
		{"/hic-schema/hic.schema.image.cue", "schema/image.cue", true},
		{"/hic-schema/image.cue", "", false},
		{"/work/catalog/hic.schema.root.cue", "", false},
		{"/work/catalog/nginx/hic.schema.x.cue", "", false},
		{"/x/hic-schema/hic.schema.image.cue", "", false},
		{"hic.schema.image.cue", "", false},
	} {
		got, ok := SourceFile(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SourceFile(%q) = %q, %v, want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	// Evaluate's positions are the ones SourceFile names.
	v, err := Evaluate(cuecontext.New())
	if err != nil {
		t.Fatal(err)
	}
	p := v.LookupPath(cue.ParsePath("#Image")).Pos()
	if got, ok := SourceFile(p.Filename()); !ok || got != "schema/image.cue" {
		t.Errorf("#Image is at %s: SourceFile = %q, %v, want schema/image.cue", p.Filename(), got, ok)
	}
}
