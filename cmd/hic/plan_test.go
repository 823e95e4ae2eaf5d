package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/plan"
	"github.com/hic-build/hic/compiler/report"
)

const (
	// shCatalog has 24 specs: 3 images x 2 streams x 2 distros x 2 variants.
	shCatalog = "testdata/build/catalog"
	shToday   = "2026-11-27"
)

// shPlan runs hic plan -o json and decodes the shards.
func shPlan(t *testing.T, args ...string) []plan.Shard {
	t.Helper()
	out := hicCLI(t, nil, append([]string{"-C", shCatalog, "plan", "--today", shToday, "-o", "json"}, args...)...).must(t, 0).Stdout
	if strings.Count(out, "\n") != 1 {
		t.Errorf("plan -o json is not one line:\n%s", out)
	}
	var shards []plan.Shard
	if err := json.Unmarshal([]byte(out), &shards); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, out)
	}
	return shards
}

// shReportRefs reads a build report and returns its refs.
func shReportRefs(t *testing.T, path string) (*report.Report, []string) {
	t.Helper()
	r, err := report.ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{}
	for _, s := range r.Specs {
		refs = append(refs, s.Ref)
	}
	return r, refs
}

func TestPlanCmd(t *testing.T) {
	cat, err := load.Load(t.Context(), shCatalog, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := compile.All(cat.Specs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []plan.Shard
	}{
		{"whole catalog", []string{"--shards", "3"}, plan.Split(plan.Estimate(imgs, nil), 3)},
		{"one shard", []string{"--shards", "1"}, plan.Split(plan.Estimate(imgs, nil), 1)},
		{"a selection", []string{"--shards", "2", "gamma:0.9"}, plan.Split(plan.Estimate(imgs[20:], nil), 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := shPlan(t, tc.args...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			var refs []string
			for _, s := range got {
				refs = append(refs, s.Refs...)
			}
			slices.Sort(refs)
			if len(refs) == 0 || len(slices.Compact(refs)) != len(refs) {
				t.Errorf("refs placed twice or not at all: %v", refs)
			}
		})
	}
	if got := imgs[20].Ref; got != "gamma:0.9-alpine-3.23-dev" {
		t.Fatalf("test assumes the last 4 specs are gamma:0.9, got %s", got)
	}

}

// TestShardedBuild builds a selection in shards, as CI matrix jobs would,
// and merges the shard reports.
func TestShardedBuild(t *testing.T) {
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	hicCLI(t, nil, "-C", shCatalog, "mirror", "--out", mirror).must(t, 0)
	build := func(out string, args ...string) {
		t.Helper()
		hicCLI(t, nil, append([]string{"-C", shCatalog, "build", "--today", shToday, "--jobs", "2", "--mirrors", mirror, "--unsigned", "--out", out}, args...)...).must(t, 0)
	}

	// alpha's 8 specs in 2 shards.
	shards := shPlan(t, "--shards", "2", "alpha")
	var reports []string
	for _, s := range shards {
		out := filepath.Join(tmp, "alpha", strconv.Itoa(s.Index))
		build(out, "alpha", "--shard", strconv.Itoa(s.Index)+"/2")
		rep := filepath.Join(out, "report.json")
		_, refs := shReportRefs(t, rep)
		if diff := cmp.Diff(s.Refs, refs); diff != "" {
			t.Errorf("shard %d built (-plan +report):\n%s", s.Index, diff)
		}
		reports = append(reports, rep)
	}
	merged := filepath.Join(tmp, "alpha", "report.json")
	stdout := hicCLI(t, nil, append([]string{"report", "merge", merged}, reports...)...).must(t, 0).Stdout
	if !strings.Contains(stdout, "8 specs in") || !strings.Contains(stdout, "8 built, 0 cached") {
		t.Errorf("merge summary:\n%s", stdout)
	}
	r, refs := shReportRefs(t, merged)
	want := append(slices.Clone(shards[0].Refs), shards[1].Refs...)
	slices.Sort(want)
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("merged refs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(report.Counts{Built: 8}, r.Counts); diff != "" {
		t.Errorf("merged counts (-want +got):\n%s", diff)
	}

	// The durations of the merged report balance the next plan, and a build
	// given the same report builds that plan's shard.
	shards = shPlan(t, "--shards", "2", "alpha", "--report", merged)
	build(filepath.Join(tmp, "alpha", "0"), "alpha", "--shard", "0/2", "--shard-report", merged)
	_, refs = shReportRefs(t, filepath.Join(tmp, "alpha", "0", "report.json"))
	if diff := cmp.Diff(shards[0].Refs, refs); diff != "" {
		t.Errorf("shard 0 with --shard-report built (-plan +report):\n%s", diff)
	}

	// One spec in 3 shards: two are empty and still write a report.
	reports = nil
	for i := range 3 {
		out := filepath.Join(tmp, "one", strconv.Itoa(i))
		build(out, "alpha:2-wolfi-runtime", "--shard", strconv.Itoa(i)+"/3")
		reports = append(reports, filepath.Join(out, "report.json"))
	}
	merged = filepath.Join(tmp, "one", "report.json")
	hicCLI(t, nil, append([]string{"report", "merge", merged}, reports...)...).must(t, 0)
	if _, refs := shReportRefs(t, merged); !slices.Equal(refs, []string{"alpha:2-wolfi-runtime"}) {
		t.Errorf("merged refs %v, want the one spec", refs)
	}

	// -q: nothing on stdout, no progress on stderr.
	quiet := hicCLI(t, nil, "-C", shCatalog, "build", "-q", "--today", shToday, "--mirrors", mirror, "--unsigned", "--out", filepath.Join(tmp, "quiet"), "alpha:2-wolfi-runtime").must(t, 0)
	if quiet.Stdout != "" || quiet.Stderr != "" {
		t.Errorf("hic build -q printed:\nstdout:\n%s\nstderr:\n%s", quiet.Stdout, quiet.Stderr)
	}

	// An empty shard keeps what the earlier report of its output carries
	// over: the spec whose last build failed stays refused by publish.
	out := filepath.Join(tmp, "one", "1")
	earlier := report.Report{Status: report.StatusCompleted, Specs: []report.SpecReport{{
		Ref: "alpha:1-wolfi-runtime", Status: report.StatusBuilt,
		Findings: []finding.Finding{{Rule: "hic.smoke", Severity: finding.Error, Message: "the smoke test failed"}},
	}}}
	if err := earlier.WriteFile(filepath.Join(out, "report.json")); err != nil {
		t.Fatal(err)
	}
	build(out, "alpha:2-wolfi-runtime", "--shard", "1/3")
	r, _ = shReportRefs(t, filepath.Join(out, "report.json"))
	if len(r.EarlierFailing) != 1 || r.EarlierFailing[0].Ref != "alpha:1-wolfi-runtime" {
		t.Errorf("empty shard's report: earlier failing %+v, want alpha:1-wolfi-runtime carried over", r.EarlierFailing)
	}
	// A damaged earlier report is refused, and left as it was.
	damaged := []byte(`{"specs": [`)
	if err := os.WriteFile(filepath.Join(out, "report.json"), damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	res := hicCLI(t, nil, "-C", shCatalog, "build", "--today", shToday, "--mirrors", mirror, "--unsigned", "--out", out, "alpha:2-wolfi-runtime", "--shard", "1/3").must(t, 2)
	if !strings.Contains(res.Stderr, "report.json") {
		t.Errorf("empty shard over a damaged report.json: stderr does not name it:\n%s", res.Stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "report.json")); !bytes.Equal(b, damaged) {
		t.Errorf("empty shard replaced a damaged report.json with:\n%s", b)
	}
}
