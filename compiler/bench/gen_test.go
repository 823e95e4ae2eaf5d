package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/check"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/schema"
)

// TestGenerateIsClean: a generated catalog holds Specs() specs and no
// failing finding, so the benchmark times vet over valid specs.
func TestGenerateIsClean(t *testing.T) {
	o := Options{Images: 12, Streams: 4}
	dir := t.TempDir()
	if err := Generate(dir, o); err != nil {
		t.Fatal(err)
	}
	cat, err := load.Load(context.Background(), dir, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := schema.LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	fs := append(cat.Findings, check.Check(cat.Specs, check.Options{Today: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Tables: tab})...)
	for _, f := range fs {
		if f.Failing() {
			t.Errorf("%s: %s: %s", f.Pos, f.Rule, f.Message)
		}
	}
	if got, want := len(cat.Specs), o.Specs(); got != want {
		t.Errorf("%d specs, want %d", got, want)
	}
	if got := len(cat.Files); got != o.Images {
		t.Errorf("%d files, want %d", got, o.Images)
	}
	if n := finding.CountFailing(fs); n != 0 {
		t.Errorf("%d failing findings", n)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := Generate(d, Options{Images: 3, Streams: 2}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(root string) map[string]string {
		out := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			out[rel] = string(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ra, rb := read(a), read(b)
	if diff := cmp.Diff(ra, rb); diff != "" {
		t.Errorf("two runs differ:\n%s", diff)
	}
	if len(ra) != 4 { // cue.mod/module.cue + 3 images
		t.Errorf("%d files, want 4", len(ra))
	}
}

// BenchmarkLoadAndCheck times load + check on the default 1,200-spec catalog.
//
//	go test ./compiler/bench -run '^$' -bench LoadAndCheck -benchtime 3x
func BenchmarkLoadAndCheck(b *testing.B) {
	dir := b.TempDir()
	if err := Generate(dir, Default); err != nil {
		b.Fatal(err)
	}
	tab, err := schema.LoadTables()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cat, err := load.Load(context.Background(), dir, load.Options{})
		if err != nil {
			b.Fatal(err)
		}
		check.Check(cat.Specs, check.Options{Today: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), Tables: tab})
		if len(cat.Specs) != Default.Specs() {
			b.Fatalf("%d specs, want %d", len(cat.Specs), Default.Specs())
		}
	}
}
