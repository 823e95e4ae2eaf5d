package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// catalogDate is the date the catalog's streams were last reviewed against
// upstream end-of-life dates. The test pins it so that the suite does not
// start failing on the day a stream expires; `hic vet` without --today (as
// CI runs it on pull requests) judges against the real date and flags it.
const catalogDate = "2026-11-27"

// TestCatalog checks the shipped catalog: it is large and broad, vets clean,
// and its per-image files stay short because the schema carries the
// conventions.
func TestCatalog(t *testing.T) {
	root := filepath.Join("..", "..", "catalog")

	hicCLI(t, nil, "-C", root, "vet", "--today", catalogDate).must(t, 0)
	list := hicCLI(t, nil, "-C", root, "list", "--format", "json").must(t, 0)
	var rows []struct {
		Ref, Image, Distro, Variant, Repository string
		Tags                                    []string
	}
	if err := json.Unmarshal([]byte(list.Stdout), &rows); err != nil {
		t.Fatal(err)
	}
	images, repos, distros, variants := map[string]bool{}, map[string]bool{}, map[string]int{}, map[string]int{}
	tags := map[string]string{}
	for _, r := range rows {
		images[r.Image] = true
		repos[r.Repository] = true
		distros[r.Distro]++
		variants[r.Variant]++
		for _, tag := range r.Tags {
			ref := r.Repository + ":" + tag
			if other, dup := tags[ref]; dup {
				t.Errorf("%s is produced by %s and %s", ref, other, r.Ref)
			}
			tags[ref] = r.Ref
		}
	}
	t.Logf("catalog: %d specs, %d image entries, %d repositories, distros %v, variants %v", len(rows), len(images), len(repos), distros, variants)
	// The catalog names only packages its distros' universes have, and
	// stays above 1,000 specs (issue: a catalog of packages that exist).
	if len(rows) <= 1000 {
		t.Errorf("%d specs, want more than 1,000", len(rows))
	}
	if len(repos) < 160 {
		t.Errorf("%d image repositories, want at least 160", len(repos))
	}
	if distros["wolfi"] == 0 || distros["alpine-3.22"]+distros["alpine-3.23"] == 0 {
		t.Errorf("want both Wolfi and Alpine specs, have %v", distros)
	}
	if variants["runtime"] == 0 || variants["dev"] == 0 {
		t.Errorf("want runtime and dev variants, have %v", variants)
	}

	// The median per-image file stays short.
	files, err := filepath.Glob(filepath.Join(root, "*", "*.cue"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no image files under %s: %v", root, err)
	}
	lines := make([]int, 0, len(files))
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) == "cue.mod" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Count(string(b), "\n"))
	}
	sort.Ints(lines)
	median := lines[len(lines)/2]
	if len(lines)%2 == 0 {
		median = (lines[len(lines)/2-1] + lines[len(lines)/2]) / 2
	}
	t.Logf("per-image CUE files: %d, median %d lines, longest %d lines", len(lines), median, lines[len(lines)-1])
	if median > 40 {
		t.Errorf("median per-image file is %d lines, want at most 40", median)
	}
}
