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
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/plan"
	"github.com/hic-build/hic/compiler/report"
)

const (
	// shCatalog has 24 specs: 3 images x 2 streams x 2 distros x 2 variants.
	shCatalog = "testdata/build/catalog"
	shToday   = "2026-11-27"
)

// shRun runs hic in-process and returns its exit code, stdout and stderr.
func shRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

// shMust runs hic and fails the test unless it exits with want.
func shMust(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := shRun(t, args...)
	if code != want {
		t.Fatalf("hic %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// shPlan runs hic plan -o json and decodes the shards.
func shPlan(t *testing.T, args ...string) []plan.Shard {
	t.Helper()
	out, _ := shMust(t, 0, append([]string{"-C", shCatalog, "plan", "--today", shToday, "-o", "json"}, args...)...)
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

	out, _ := shMust(t, 0, "-C", shCatalog, "plan", "--today", shToday, "--shards", "2")
	for _, want := range []string{"24 specs in 2 shards (cost in packages x platforms)", "shard 0/2: ", "shard 1/2: ", "  alpha:1-alpine-3.23-dev\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan text output lacks %q:\n%s", want, out)
		}
	}
}

func TestShardUsage(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plan without --shards", []string{"plan"}, "--shards 0: want at least 1"},
		{"plan with a bad format", []string{"plan", "-n", "2", "-o", "yaml"}, `--format "yaml"`},
		{"plan with a missing report", []string{"plan", "-n", "2", "--report", filepath.Join(tmp, "none.json")}, "read report"},
		{"plan with a broken report", []string{"plan", "-n", "2", "--report", bad}, "read report"},
		{"shard past the end", []string{"build", "--all", "--shard", "3/3"}, `--shard "3/3": want I/N`},
		{"shard not a fraction", []string{"build", "--all", "--shard", "1"}, `--shard "1": want I/N`},
		{"negative shard", []string{"build", "--all", "--shard", "-1/2"}, `--shard "-1/2": want I/N`},
		{"zero shards", []string{"build", "--all", "--shard", "0/0"}, `--shard "0/0": want I/N`},
		{"shard letters", []string{"build", "--all", "--shard", "a/b"}, `--shard "a/b": want I/N`},
		{"shard without a selection", []string{"build", "--shard", "0/2"}, "build: nothing to build: name specs"},
		{"shard report without shard", []string{"build", "--all", "--shard-report", bad}, "--shard-report needs --shard"},
		{"shard with a broken report", []string{"build", "--all", "--shard", "0/2", "--shard-report", bad}, "read report"},
		{"merge without inputs", []string{"report", "merge", filepath.Join(tmp, "out.json")}, "requires at least 2 arg"},
		{"merge a missing input", []string{"report", "merge", filepath.Join(tmp, "out.json"), filepath.Join(tmp, "none.json")}, "read report"},
		{"merge a broken input", []string{"report", "merge", filepath.Join(tmp, "out.json"), bad}, "read report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-C", shCatalog}, tc.args...)
			code, _, stderr := shRun(t, args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("hic %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
			}
		})
	}
}

// TestShardedBuild builds a selection in shards, as CI matrix jobs would,
// and merges the shard reports.
func TestShardedBuild(t *testing.T) {
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	shMust(t, 0, "-C", shCatalog, "mirror", "--out", mirror)
	build := func(out string, args ...string) {
		t.Helper()
		shMust(t, 0, append([]string{"-C", shCatalog, "build", "--today", shToday, "--jobs", "2", "--mirrors", mirror, "--unsigned", "--out", out}, args...)...)
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
	stdout, _ := shMust(t, 0, append([]string{"report", "merge", merged}, reports...)...)
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
	shMust(t, 0, append([]string{"report", "merge", merged}, reports...)...)
	if _, refs := shReportRefs(t, merged); !slices.Equal(refs, []string{"alpha:2-wolfi-runtime"}) {
		t.Errorf("merged refs %v, want the one spec", refs)
	}
}
