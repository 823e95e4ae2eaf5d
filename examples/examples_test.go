// Package examples holds no code: its test checks the CI examples with the
// validators the engines themselves use, so an example that a maintainer
// copies is accepted as it is.
package examples

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/buildkite/go-pipeline"
	"github.com/rhysd/actionlint"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestGitHubActionsWorkflow lints the workflow with actionlint, the linter
// of GitHub Actions syntax, expressions, job needs and matrix use.
func TestGitHubActionsWorkflow(t *testing.T) {
	const path = "github-actions.yml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{WorkingDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.Lint(path, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", path, e.Line, e.Column, e.Message, e.Kind)
	}
	// The matrix is the plan: the build job reads shard I of N from the
	// plan job's JSON and passes it to hic build --shard.
	text := string(b)
	for _, want := range []string{
		`hic plan --shards "$SHARDS" --format json`,
		`fromJSON(needs.plan.outputs.shards)`,
		`--shard ${{ matrix.shard }}/$SHARDS`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not contain %q", path, want)
		}
	}
}

// TestKubernetesIndexedJob decodes the manifest strictly into the
// Kubernetes API types (an unknown or misspelt field is an error, as
// kubectl's server-side validation makes it) and checks the shard
// arithmetic: an Indexed Job of N completions whose pods build shard
// $JOB_COMPLETION_INDEX of N, retried per index.
func TestKubernetesIndexedJob(t *testing.T) {
	const path = "kubernetes-job.yaml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(b, &job); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" {
		t.Fatalf("%s: apiVersion %q kind %q, want batch/v1 Job", path, job.APIVersion, job.Kind)
	}
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode is %v, want Indexed (pods get JOB_COMPLETION_INDEX)", s.CompletionMode)
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 1 {
		t.Errorf("backoffLimitPerIndex is %v, want >= 1: a failing shard is retried on its own", s.BackoffLimitPerIndex)
	}
	if s.Completions == nil || s.Parallelism == nil {
		t.Fatalf("completions %v, parallelism %v: both must be set", s.Completions, s.Parallelism)
	}
	if *s.Parallelism > *s.Completions {
		t.Errorf("parallelism %d > completions %d", *s.Parallelism, *s.Completions)
	}
	if got := s.Template.Spec.RestartPolicy; got != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never (backoffLimitPerIndex requires it)", got)
	}
	if len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(s.Template.Spec.Containers))
	}
	c := s.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	shards, err := strconv.Atoi(env["SHARDS"])
	if err != nil {
		t.Fatalf("env SHARDS %q: %v", env["SHARDS"], err)
	}
	if int32(shards) != *s.Completions {
		t.Errorf("SHARDS=%d but completions=%d: indexes 0..%d must be exactly the shards 0..%d",
			shards, *s.Completions, *s.Completions-1, shards-1)
	}
	script := strings.Join(append(c.Command, c.Args...), " ")
	shard := regexp.MustCompile(`hic build [^\n]*--shard "\$JOB_COMPLETION_INDEX/\$SHARDS"`)
	if !shard.MatchString(script) {
		t.Errorf("the container does not run hic build --shard \"$JOB_COMPLETION_INDEX/$SHARDS\":\n%s", script)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("the container is not locked down (read-only root, no privilege escalation): %+v", sc)
	}
	if ps := s.Template.Spec.SecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		t.Errorf("the pod does not run as non-root")
	}
}

// TestBuildkitePipeline parses the pipeline with Buildkite's own parser
// (github.com/buildkite/go-pipeline, what the agent's pipeline upload
// uses) and checks that it uploads the pipeline hic plan writes, for the
// number of shards it sets. compiler/plan's TestBuildkite checks that
// generated pipeline.
func TestBuildkitePipeline(t *testing.T) {
	const path = "buildkite-pipeline.yml"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(p.RemainingFields) != 0 {
		t.Errorf("%s: top-level fields Buildkite does not know: %v", path, p.RemainingFields)
	}
	shards, ok := p.Env.Get("SHARDS")
	if n, err := strconv.Atoi(shards); !ok || err != nil || n < 1 {
		t.Fatalf("%s: env SHARDS %q, want a number of shards", path, shards)
	}
	var upload string
	for i, s := range p.Steps {
		cs, ok := s.(*pipeline.CommandStep)
		if !ok {
			t.Fatalf("%s: step %d is a %T, want command steps", path, i, s)
		}
		for k := range cs.RemainingFields {
			if k != "if" {
				t.Errorf("%s: step %q has field %q that Buildkite's parser does not model", path, cs.Label, k)
			}
		}
		if strings.Contains(cs.Command, "pipeline upload") {
			upload = cs.Command
		}
	}
	if want := `bin/hic plan --shards "$$SHARDS" --format buildkite | buildkite-agent pipeline upload`; !strings.Contains(upload, want) {
		t.Errorf("%s: no step runs %q (the shards and the merge come from hic plan); the upload step runs:\n%s", path, want, upload)
	}
}
