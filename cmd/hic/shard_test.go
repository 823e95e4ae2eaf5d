package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/testenv"
)

// TestShardedBuildsShareTheRegistry runs a 4-shard plan as 4 hic processes
// side by side against one real registry, each pushing what it builds and
// asking the registry first (--push, and --cache-from by default), then
// merges their reports: the union is exactly the plan's specs, each built
// once. A second round on fresh machines (empty output directories) builds
// nothing: every spec is cached in the registry. The times go to the log
// (BENCHMARKS.md, "Sharded builds").
func TestShardedBuildsShareTheRegistry(t *testing.T) {
	const shards = 4
	tmp := t.TempDir()
	hic := filepath.Join(tmp, "hic")
	if b, err := exec.CommandContext(t.Context(), "go", "build", "-o", hic, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	mirror := filepath.Join(tmp, "mirror")
	bldMirror(t, bldCatalog, mirror)
	key := bldKey(t)
	reg := testenv.StartRegistry(t)
	dest := reg + "/hic"

	stdout := hicCLI(t, nil, "-C", bldCatalog, "plan", "--shards", fmt.Sprint(shards), "--today", bldToday, "--format", "json").must(t, 0).Stdout
	var plan []struct {
		Refs []string `json:"refs"`
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
		t.Fatalf("hic plan --format json: %v\n%s", err, stdout)
	}
	var planned []string
	for _, s := range plan {
		planned = append(planned, s.Refs...)
	}
	slices.Sort(planned)
	if len(plan) != shards || len(planned) != bldCatalogSpecs {
		t.Fatalf("plan has %d shards and %d specs, want %d and %d", len(plan), len(planned), shards, bldCatalogSpecs)
	}

	// round builds every shard in its own process and output directory, side
	// by side, and merges the reports.
	round := func(name string) (*report.Report, []*report.Report, time.Duration) {
		t.Helper()
		start := time.Now()
		var wg sync.WaitGroup
		outs := make([]string, shards)
		errs := make([]string, shards)
		for i := range shards {
			outs[i] = filepath.Join(tmp, name, fmt.Sprintf("shard-%d", i))
			wg.Go(func() {
				cmd := exec.CommandContext(t.Context(), hic, "-C", bldCatalog, "build", "--all",
					"--shard", fmt.Sprintf("%d/%d", i, shards), "--today", bldToday, "--jobs", "1",
					"--mirrors", mirror, "--out", outs[i], "--key", key, "--push", dest)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					errs[i] = fmt.Sprintf("shard %d/%d: %v\n%s", i, shards, err, out.String())
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		for _, e := range errs {
			if e != "" {
				t.Fatal(e)
			}
		}
		merged := filepath.Join(tmp, name, "report.json")
		args := []string{"report", "merge", merged}
		var reps []*report.Report
		for _, o := range outs {
			args = append(args, filepath.Join(o, "report.json"))
			r, err := report.ReadReport(filepath.Join(o, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			reps = append(reps, r)
		}
		hicCLI(t, nil, args...).must(t, 0)
		m, err := report.ReadReport(merged)
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, s := range m.Specs {
			refs = append(refs, s.Ref)
		}
		if !slices.Equal(refs, planned) {
			t.Errorf("%s: merged specs %v, want the plan's %v", name, refs, planned)
		}
		if m.Plan == "" || m.Plan != reps[0].Shard.Plan {
			t.Errorf("%s: merged report names plan %q, shard 0 %q", name, m.Plan, reps[0].Shard.Plan)
		}
		return m, reps, elapsed
	}

	first, reps, cold := round("round1")
	built := 0
	for _, r := range reps {
		built += r.Counts.Built
	}
	if built != bldCatalogSpecs || first.Counts.Built != bldCatalogSpecs {
		t.Errorf("round 1: %d specs built over the shards (merged: %d), want each of the %d built exactly once", built, first.Counts.Built, bldCatalogSpecs)
	}

	second, _, warm := round("round2")
	var notCached []string
	for _, s := range second.Specs {
		if s.Status != report.StatusCached || !strings.HasPrefix(s.CachedFrom, dest+"/") {
			notCached = append(notCached, s.Ref+" "+s.Status+" "+s.CachedFrom)
		}
	}
	if len(notCached) > 0 || second.Counts.Built != 0 || second.Counts.CachedRegistry != bldCatalogSpecs {
		t.Errorf("round 2 on fresh output directories: want all %d cached (registry), got %d built, %d cached in the registry; not: %v",
			bldCatalogSpecs, second.Counts.Built, second.Counts.CachedRegistry, notCached)
	}
	for i, s := range second.Specs {
		if s.ImageDigest != first.Specs[i].ImageDigest {
			t.Errorf("%s: round 2 found %s in the registry, round 1 built %s", s.Ref, s.ImageDigest, first.Specs[i].ImageDigest)
		}
	}
	msg := fmt.Sprintf("sharded: %d specs, %d shards as %d processes: round 1 (cold, build+push) %.1fs; round 2 (fresh output dirs, all cached in the registry) %.1fs",
		bldCatalogSpecs, shards, shards, cold.Seconds(), warm.Seconds())
	fmt.Println(msg)
}
