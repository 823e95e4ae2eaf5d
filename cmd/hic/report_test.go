package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/report"
)

func TestReportMerge(t *testing.T) {
	spec := func(ref, status, digest string) report.SpecReport {
		return report.SpecReport{Ref: ref, Status: status, ImageDigest: digest, InputDigest: "sha256:in-" + ref, DurationMs: 100}
	}
	rep := func(ms int64, c report.Counts, specs ...report.SpecReport) *report.Report {
		return &report.Report{Status: report.StatusCompleted, HicVersion: version, ApkoVersion: "v0.30.34", DurationMs: ms, Counts: c, Specs: specs}
	}
	tests := []struct {
		name   string
		inputs []*report.Report
		code   int
		want   *report.Report // the merged file, when the merge succeeds
		stderr string
	}{
		{"two shards", []*report.Report{
			rep(200, report.Counts{Built: 1}, spec("b:1", "built", "sha256:b")),
			rep(300, report.Counts{Cached: 1}, spec("a:1", "cached", "sha256:a")),
		}, 0, rep(300, report.Counts{Built: 1, Cached: 1}, spec("a:1", "cached", "sha256:a"), spec("b:1", "built", "sha256:b")), ""},
		{"a failed spec fails the merge", []*report.Report{
			rep(200, report.Counts{Built: 1}, spec("b:1", "built", "sha256:b")),
			rep(300, report.Counts{Failed: 1}, spec("a:1", "failed", "")),
		}, 1, rep(300, report.Counts{Built: 1, Failed: 1}, spec("a:1", "failed", ""), spec("b:1", "built", "sha256:b")), ""},
		{"conflicting results", []*report.Report{
			rep(200, report.Counts{Built: 1}, spec("a:1", "built", "sha256:x")),
			rep(300, report.Counts{Built: 1}, spec("a:1", "built", "sha256:y")),
		}, 2, nil, "a:1: in "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			args := []string{"report", "merge", filepath.Join(tmp, "out", "report.json")}
			for i, r := range tc.inputs {
				p := filepath.Join(tmp, "shard"+string(rune('0'+i)), "report.json")
				if err := r.WriteFile(p); err != nil {
					t.Fatal(err)
				}
				args = append(args, p)
			}
			if r := hicCLI(t, nil, args...); r.Code != tc.code || !strings.Contains(r.Stderr, tc.stderr) {
				t.Fatalf("%s\nwant exit %d and stderr %q", r, tc.code, tc.stderr)
			}
			if tc.want == nil {
				return
			}
			got, err := report.ReadReport(args[2])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("merged report (-want +got):\n%s", diff)
			}
		})
	}
}
