package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/pipeline"
)

func TestReportMerge(t *testing.T) {
	spec := func(ref, status, digest string) pipeline.SpecReport {
		return pipeline.SpecReport{Ref: ref, Status: status, ImageDigest: digest, InputDigest: "sha256:in-" + ref, DurationMs: 100}
	}
	rep := func(ms int64, c pipeline.Counts, specs ...pipeline.SpecReport) *pipeline.Report {
		return &pipeline.Report{Status: pipeline.StatusCompleted, HicVersion: version, ApkoVersion: "v0.30.34", DurationMs: ms, Counts: c, Specs: specs}
	}
	tests := []struct {
		name   string
		inputs []*pipeline.Report
		code   int
		want   *pipeline.Report // the merged file, when the merge succeeds
		stderr string
	}{
		{"two shards", []*pipeline.Report{
			rep(200, pipeline.Counts{Built: 1}, spec("b:1", "built", "sha256:b")),
			rep(300, pipeline.Counts{Cached: 1}, spec("a:1", "cached", "sha256:a")),
		}, 0, rep(300, pipeline.Counts{Built: 1, Cached: 1}, spec("a:1", "cached", "sha256:a"), spec("b:1", "built", "sha256:b")), ""},
		{"a failed spec fails the merge", []*pipeline.Report{
			rep(200, pipeline.Counts{Built: 1}, spec("b:1", "built", "sha256:b")),
			rep(300, pipeline.Counts{Failed: 1}, spec("a:1", "failed", "")),
		}, 1, rep(300, pipeline.Counts{Built: 1, Failed: 1}, spec("a:1", "failed", ""), spec("b:1", "built", "sha256:b")), ""},
		{"conflicting results", []*pipeline.Report{
			rep(200, pipeline.Counts{Built: 1}, spec("a:1", "built", "sha256:x")),
			rep(300, pipeline.Counts{Built: 1}, spec("a:1", "built", "sha256:y")),
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
			code, stdout, stderr := shRun(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q, want %q\nstdout:\n%s", code, tc.code, stderr, tc.stderr, stdout)
			}
			if tc.want == nil {
				return
			}
			got, err := pipeline.ReadReport(args[2])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("merged report (-want +got):\n%s", diff)
			}
		})
	}
}
