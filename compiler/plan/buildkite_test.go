package plan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/buildkite/go-pipeline"
)

// mapEnv is the upload-time environment of the Buildkite agent.
type mapEnv map[string]string

func (e mapEnv) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e mapEnv) Set(k, v string)             { e[k] = v }

// TestBuildkite parses the pipeline of a plan with Buildkite's own pipeline
// parser, interpolates it as `buildkite-agent pipeline upload` does, and
// checks the shard arithmetic: one build step per shard with its --shard
// I/N, a wait that lets the merge run after failed shards, and a merge of
// every shard's report. Variables reach the agents' shell unexpanded.
func TestBuildkite(t *testing.T) {
	p := Plan{Digest: "sha256:abc", Shards: []Shard{
		{Index: 0, Refs: []string{"a:1", "b:1"}}, {Index: 1, Refs: []string{"c:1"}}, {Index: 2},
	}}
	b, err := p.Buildkite([]string{"hic", "-C", "'my catalog'", "build", "--all"})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := pipeline.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Buildkite's parser refuses the pipeline: %v\n%s", err, b)
	}
	// Upload-time values that must not reach the commands.
	env := mapEnv{"HIC_KEY": "UPLOAD-KEY", "HIC_REGISTRY": "UPLOAD-REGISTRY"}
	if err := pl.Interpolate(env, false); err != nil {
		t.Fatalf("interpolate: %v", err)
	}
	n := len(p.Shards)
	if len(pl.Steps) != n+2 {
		t.Fatalf("%d steps, want %d (a build per shard, a wait, the merge):\n%s", len(pl.Steps), n+2, b)
	}
	var reports []string
	for i, s := range p.Shards {
		step, ok := pl.Steps[i].(*pipeline.CommandStep)
		if !ok {
			t.Fatalf("step %d is a %T, want a command step", i, pl.Steps[i])
		}
		want := fmt.Sprintf(`hic -C 'my catalog' build --all --shard %d/%d --out shard-%d --jobs "$(nproc)" --key "$HIC_KEY" --push "$HIC_REGISTRY"`, s.Index, n, s.Index)
		if step.Command != want {
			t.Errorf("step %d runs\n  %s\nwant\n  %s", i, step.Command, want)
		}
		if got, want := step.Label, fmt.Sprintf("hic build shard %d/%d (%d specs)", i, n, len(s.Refs)); got != want {
			t.Errorf("step %d label %q, want %q", i, got, want)
		}
		art := fmt.Sprintf("shard-%d/report.json", i)
		if got := step.RemainingFields["artifact_paths"]; got != art {
			t.Errorf("step %d uploads %v, want %s", i, got, art)
		}
		for k := range step.RemainingFields {
			if k != "artifact_paths" {
				t.Errorf("step %d has field %q that Buildkite's parser does not model", i, k)
			}
		}
		reports = append(reports, art)
	}
	wait, ok := pl.Steps[n].(*pipeline.WaitStep)
	if !ok || wait.Contents["continue_on_failure"] != true {
		t.Errorf("step %d is %#v, want a wait step with continue_on_failure: true (the merge names the shards that failed)", n, pl.Steps[n])
	}
	merge, ok := pl.Steps[n+1].(*pipeline.CommandStep)
	if !ok {
		t.Fatalf("last step is a %T, want the merge command step", pl.Steps[n+1])
	}
	if want := "hic report merge report.json " + strings.Join(reports, " "); !strings.Contains(merge.Command, want) {
		t.Errorf("merge step runs\n%s\nwant a line %q", merge.Command, want)
	}
	if strings.Contains(string(b), "UPLOAD-") {
		t.Errorf("pipeline holds upload-time values")
	}
}

// TestBuildkiteNoShards refuses an empty plan rather than writing a
// pipeline that builds nothing and merges nothing.
func TestBuildkiteNoShards(t *testing.T) {
	if _, err := (Plan{Digest: "sha256:abc"}).Buildkite([]string{"hic", "build", "--all"}); err == nil {
		t.Error("Buildkite of a plan without shards: no error")
	}
}
