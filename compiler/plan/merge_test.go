package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/report"
)

func mkReport(status string, ms int64, counts report.Counts, specs ...report.SpecReport) *report.Report {
	return &report.Report{Status: status, HicVersion: "0.1.0", ApkoVersion: "v0.30.34", DurationMs: ms, Signed: true, KeyID: "k1", Counts: counts, Specs: specs}
}

func TestMerge(t *testing.T) {
	built := func(ref, digest string) report.SpecReport {
		return report.SpecReport{Ref: ref, InputDigest: "sha256:in-" + ref, ImageDigest: digest, Status: report.StatusBuilt, DurationMs: 10}
	}
	waived := report.SpecReport{Ref: "w:1", Status: report.StatusCached, Findings: []finding.Finding{
		{Rule: "fs-setuid", Severity: finding.Error, Waived: true, Reason: "ping"},
	}}
	failed := report.SpecReport{Ref: "f:1", Status: report.StatusFailed, Error: "apk: no such package"}
	tests := []struct {
		name    string
		srcs    []Source
		want    *report.Report
		wantErr string
	}{
		{"two shards", []Source{
			{"s0.json", mkReport("completed", 300, report.Counts{Built: 1, Cached: 1, WaivedFindings: 1}, built("c:1", "sha256:c"), waived)},
			{"s1.json", mkReport("completed", 500, report.Counts{Built: 1, Failed: 1}, built("a:1", "sha256:a"), failed)},
		}, mkReport("completed", 500, report.Counts{Built: 2, Cached: 1, Failed: 1, WaivedFindings: 1},
			built("a:1", "sha256:a"), built("c:1", "sha256:c"), failed, waived), ""},
		{"one shard cancelled", []Source{
			{"s0.json", mkReport("completed", 1, report.Counts{Built: 1}, built("a:1", "sha256:a"))},
			{"s1.json", mkReport("cancelled", 2, report.Counts{Cancelled: 1}, report.SpecReport{Ref: "b:1", Status: report.StatusCancelled})},
		}, mkReport("cancelled", 2, report.Counts{Built: 1, Cancelled: 1},
			built("a:1", "sha256:a"), report.SpecReport{Ref: "b:1", Status: report.StatusCancelled}), ""},
		{"an empty, unsigned shard first", []Source{
			{"s0.json", &report.Report{Status: "completed", HicVersion: "0.1.0", ApkoVersion: "v0.30.34"}},
			{"s1.json", mkReport("completed", 1, report.Counts{Built: 1}, built("a:1", "sha256:a"))},
		}, mkReport("completed", 1, report.Counts{Built: 1}, built("a:1", "sha256:a")), ""},
		{"the same result twice is kept once", []Source{
			{"s0.json", mkReport("completed", 1, report.Counts{Cached: 1, WaivedFindings: 1}, waived)},
			{"s0-again.json", mkReport("completed", 1, report.Counts{Cached: 1, WaivedFindings: 1}, waived)},
		}, mkReport("completed", 1, report.Counts{Cached: 1, WaivedFindings: 1}, waived), ""},
		{"conflicting results", []Source{
			{"s0.json", mkReport("completed", 1, report.Counts{Built: 1}, built("a:1", "sha256:a"))},
			{"s1.json", mkReport("completed", 1, report.Counts{Built: 1}, built("a:1", "sha256:other"))},
		}, nil, "a:1: in s0.json (built sha256:a) and s1.json (built sha256:other) with different results"},
		{"different hic versions", []Source{
			{"s0.json", mkReport("completed", 1, report.Counts{Built: 1}, built("a:1", "sha256:a"))},
			{"s1.json", &report.Report{Status: "completed", HicVersion: "0.2.0", ApkoVersion: "v0.30.34", Signed: true, KeyID: "k1", Specs: []report.SpecReport{built("b:1", "sha256:b")}}},
		}, nil, `s1.json: hic version "0.2.0", but s0.json has "0.1.0"`},
		{"different keys", []Source{
			{"s0.json", mkReport("completed", 1, report.Counts{Built: 1}, built("a:1", "sha256:a"))},
			{"s1.json", &report.Report{Status: "completed", HicVersion: "0.1.0", ApkoVersion: "v0.30.34", Specs: []report.SpecReport{built("b:1", "sha256:b")}}},
		}, nil, `s1.json: signed "false", but s0.json has "true"; s1.json: key "", but s0.json has "k1"`},
		{"nothing to merge", nil, nil, "merge: no reports"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.srcs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMergeShards: shard reports merge only as every shard of one plan,
// each once; duplicated results that differ only in timing are one result.
func TestMergeShards(t *testing.T) {
	spec := func(ref string, ms int64) report.SpecReport {
		return report.SpecReport{Ref: ref, InputDigest: "sha256:in-" + ref, ImageDigest: "sha256:img-" + ref, Status: report.StatusBuilt, DurationMs: ms}
	}
	shard := func(plan string, i, n int, specs ...report.SpecReport) *report.Report {
		r := mkReport("completed", 5, report.Counts{Built: len(specs)}, specs...)
		r.Shard = &report.Shard{Plan: plan, Index: i, Count: n}
		return r
	}
	const p, q = "sha256:plan-p", "sha256:plan-q"
	tests := []struct {
		name    string
		srcs    []Source
		wantErr string
		want    []string // merged refs
	}{
		{"all three shards", []Source{
			{"s0.json", shard(p, 0, 3, spec("a:1", 1))},
			{"s2.json", shard(p, 2, 3, spec("c:1", 3))},
			{"s1.json", shard(p, 1, 3, spec("b:1", 2))},
		}, "", []string{"a:1", "b:1", "c:1"}},
		{"a missing shard", []Source{
			{"s0.json", shard(p, 0, 3, spec("a:1", 1))},
			{"s1.json", shard(p, 1, 3, spec("b:1", 2))},
		}, "merge: shard 2/3 of plan sha256:plan-p missing: no report given for it", nil},
		{"two missing shards", []Source{
			{"s1.json", shard(p, 1, 3, spec("b:1", 2))},
		}, "shard 0/3, 2/3 of plan sha256:plan-p missing", nil},
		{"a duplicated shard", []Source{
			{"s0.json", shard(p, 0, 2, spec("a:1", 1))},
			{"s0-copy.json", shard(p, 0, 2, spec("a:1", 1))},
			{"s1.json", shard(p, 1, 2, spec("b:1", 2))},
		}, "merge: shard 0/2 twice: s0.json and s0-copy.json", nil},
		{"a report of another plan", []Source{
			{"s0.json", shard(p, 0, 2, spec("a:1", 1))},
			{"old.json", shard(q, 1, 2, spec("b:1", 2))},
		}, "old.json: shard 1/2 of plan sha256:plan-q, but s0.json is of plan sha256:plan-p (2 shards): reports of different plans", nil},
		{"another shard count", []Source{
			{"s0.json", shard(p, 0, 2, spec("a:1", 1))},
			{"s1.json", shard(p, 1, 3, spec("b:1", 2))},
		}, "s1.json: shard 1/3 of plan sha256:plan-p, but s0.json is of plan sha256:plan-p (2 shards)", nil},
		{"a plain report among shards", []Source{
			{"s0.json", shard(p, 0, 1, spec("a:1", 1))},
			{"plain.json", mkReport("completed", 1, report.Counts{Built: 1}, spec("b:1", 2))},
		}, "plain.json: not a shard report (built without --shard), but s0.json is shard 0/1 of plan sha256:plan-p", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.srcs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Merge error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var refs []string
			for _, s := range got.Specs {
				refs = append(refs, s.Ref)
			}
			if diff := cmp.Diff(tc.want, refs); diff != "" {
				t.Errorf("merged refs (-want +got):\n%s", diff)
			}
			if got.Plan != p || got.Shard != nil || got.Counts.Built != len(tc.want) {
				t.Errorf("merged plan %q shard %v built %d, want plan %s, no shard, %d built", got.Plan, got.Shard, got.Counts.Built, p, len(tc.want))
			}
		})
	}

	// The same spec in two plain reports with only its duration changed is
	// the same result: kept once, not "different results".
	got, err := Merge([]Source{
		{"a.json", mkReport("completed", 1, report.Counts{Built: 1}, spec("a:1", 10))},
		{"b.json", mkReport("completed", 1, report.Counts{Built: 1}, spec("a:1", 99))},
	})
	if err != nil {
		t.Fatalf("a result differing only in its duration: %v", err)
	}
	if len(got.Specs) != 1 || got.Counts.Built != 1 {
		t.Errorf("merged %d specs, %d built; want 1, 1", len(got.Specs), got.Counts.Built)
	}
}
