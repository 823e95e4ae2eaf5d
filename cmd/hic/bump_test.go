package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue/format"
	"github.com/google/go-cmp/cmp"
)

// TestBump moves the pins of a catalog to the newest in-stream versions of
// its universes, in place and formatted, lists each change, and leaves
// what it cannot bump alone with a reason.
func TestBump(t *testing.T) {
	cat := t.TempDir()
	bldCopyDir(t, vetUniverseCatalog, cat)
	if err := os.MkdirAll(filepath.Join(cat, "multi"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/bump/multi.cue")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(cat, "multi", "multi.cue")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	// 17 is not a word of "postgresql17": the stream is matched by prefix.
	hicCLI(t, nil, "-C", cat, "bump", "--dry-run", "multi", "wrong-epoch", "newer").must(t, 0)
	if after, _ := os.ReadFile(file); string(after) != string(src) {
		t.Fatal("--dry-run changed the file")
	}
	r := hicCLI(t, nil, "-C", cat, "bump", "multi", "wrong-epoch", "newer").must(t, 0)
	stdout, stderr := r.Stdout, r.Stderr
	for _, want := range []string{
		"multi.cue:13:12: nginx-mainline 1.31.3-r0 -> 1.31.4-r0 (multi:1.31-wolfi-dev, multi:1.31-wolfi-runtime)",
		"multi.cue:16:4: postgresql-18 18.3-r1 -> 18.6-r1 (multi:18-wolfi-dev, multi:18-wolfi-runtime)",
		"multi.cue:22:4: postgresql17 17.5-r0 -> 17.6-r0 (multi:17-alpine-3.23-dev, multi:17-alpine-3.23-runtime)",
		"wrong-epoch.cue:12:9: nginx-mainline 1.31.4-r1 -> 1.31.4-r0",
		"bumped 4 pins in 2 files",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{
		"skipped multi:1.30-wolfi-dev, multi:1.30-wolfi-runtime: the wolfi universe has no nginx-mainline version in stream 1.30",
		"skipped newer:1-wolfi-dev, newer:1-wolfi-runtime: nginx-mainline 1.32.0-r0 is newer than the universe's newest in the stream",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	got, _ := os.ReadFile(file)
	want := strings.NewReplacer(`"1.31.3-r0"`, `"1.31.4-r0"`, `"18.3-r1"`, `"18.6-r1"`, `"17.5-r0"`, `"17.6-r0"`).Replace(string(src))
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("bumped file (-want +got):\n%s", d)
	}
	if f, err := format.Source(got); err != nil || string(f) != string(got) {
		t.Errorf("bumped file is not formatted (%v)", err)
	}
	// The bumped pins vet clean (the 1.30 stream's was never built; the
	// image's nginx entrypoint is not in postgres 17), and a second bump
	// changes nothing.
	for _, l := range strings.Split(hicCLI(t, nil, "-C", cat, "vet", "--today", "2026-11-27", "multi", "wrong-epoch").Stdout, "\n") {
		if strings.Contains(l, "package-version") && !strings.Contains(l, "1.30.0-r0") {
			t.Errorf("after bump: %s", l)
		}
	}
	if r := hicCLI(t, nil, "-C", cat, "bump", "multi", "wrong-epoch"); r.Code != 0 || !strings.Contains(r.Stdout, "bumped 0 pins in 0 files") {
		t.Errorf("second bump: %s", r)
	}
}
