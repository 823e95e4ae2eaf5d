package load_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hic-build/hic/compiler/check"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/schema"
)

// fuzzFile is where the fuzzer's input goes in an otherwise empty catalog.
const fuzzFile = "img/img.cue"

// FuzzLoadAndVet feeds arbitrary bytes to the load-and-check path as one
// image file. It must never panic, and every finding must name a known rule
// and point into the file.
//
//	go test ./compiler/load -run '^$' -fuzz FuzzLoadAndVet -fuzztime 60s
func FuzzLoadAndVet(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "hic", "testdata", "vet", "*", "*.cue"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "hic", "testdata", "vet", "*", "*", "*.cue"))
	seeds = append(seeds, more...)
	seeds = append(seeds, filepath.Join("testdata", "app.cue"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("package hic\n"))
	f.Add([]byte("package hic\nimages: x: _|_\n"))

	tab, err := schema.LoadTables()
	if err != nil {
		f.Fatal(err)
	}
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, src []byte) {
		root := t.TempDir()
		cat, err := load.Load(context.Background(), root, load.Options{Overlay: map[string][]byte{fuzzFile: src}})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		fs := append(cat.Findings, check.Check(cat.Specs, check.Options{Today: today, Tables: tab})...)
		for _, fd := range fs {
			if _, ok := tab.Rules[fd.Rule]; !ok {
				t.Errorf("finding with unknown rule %q: %+v", fd.Rule, fd)
			}
			if fd.Pos.File != fuzzFile || fd.Pos.Line < 1 {
				t.Errorf("finding not positioned in %s: %+v", fuzzFile, fd)
			}
			if fd.Message == "" {
				t.Errorf("finding without a message: %+v", fd)
			}
			if strings.Contains(fd.Message, "goroutine ") || strings.Contains(fd.Message, "runtime error") {
				t.Errorf("finding leaks a Go failure: %+v", fd)
			}
		}
		for _, s := range cat.Specs {
			if s.Ref == "" || s.File != fuzzFile {
				t.Errorf("spec %q from file %q, want one from %s", s.Ref, s.File, fuzzFile)
			}
		}
	})
}
