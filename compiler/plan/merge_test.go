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
