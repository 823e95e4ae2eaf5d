package plan

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/buildkite/go-pipeline"
	"gopkg.in/yaml.v3"
)

// BuildkiteEnv names the agent environment variables the Buildkite pipeline
// of a plan reads at run time: the signing key file and the registry the
// shards push to and take their cache from.
var BuildkiteEnv = struct{ Key, Registry string }{"HIC_KEY", "HIC_REGISTRY"}

// Buildkite writes the plan as a Buildkite pipeline, for `buildkite-agent
// pipeline upload`: one command step per shard running build (the hic build
// command line of the selection, without --shard and --out) with --shard I/N
// into shard-I/, signing with $HIC_KEY and pushing to $HIC_REGISTRY (which
// is also its registry cache), each uploading its report as an artifact;
// then, once every shard has finished, failed or not, one step that merges
// the reports. Variables are escaped ($$) so that the agent, not the
// upload, expands them.
func (p Plan) Buildkite(build []string) ([]byte, error) {
	n := len(p.Shards)
	if n == 0 {
		return nil, fmt.Errorf("plan %s has no shards", p.Digest)
	}
	var steps pipeline.Steps
	reports := make([]string, 0, n)
	for _, s := range p.Shards {
		out := fmt.Sprintf("shard-%d", s.Index)
		reports = append(reports, out+"/report.json")
		cmd := append(append([]string{}, build...),
			"--shard", fmt.Sprintf("%d/%d", s.Index, n), "--out", out, "--jobs", `"$$(nproc)"`,
			"--key", `"$$`+BuildkiteEnv.Key+`"`, "--push", `"$$`+BuildkiteEnv.Registry+`"`)
		steps = append(steps, &pipeline.CommandStep{
			Key:     out,
			Label:   fmt.Sprintf("hic build shard %d/%d (%d specs)", s.Index, n, len(s.Refs)),
			Command: strings.Join(cmd, " "),
			RemainingFields: map[string]any{
				"artifact_paths": out + "/report.json",
			},
		})
	}
	steps = append(steps,
		&pipeline.WaitStep{Contents: map[string]any{"wait": nil, "continue_on_failure": true}},
		&pipeline.CommandStep{
			Key:   "hic-report",
			Label: "hic report merge",
			Command: strings.Join([]string{
				`buildkite-agent artifact download "shard-*/report.json" .`,
				"hic report merge report.json " + strings.Join(reports, " "),
			}, "\n"),
			RemainingFields: map[string]any{"artifact_paths": "report.json"},
		})
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# hic plan %s: %d shards.\n", p.Digest, n)
	fmt.Fprintf(&buf, "# Upload it from a pipeline step: hic plan --shards %d --format buildkite | buildkite-agent pipeline upload\n", n)
	fmt.Fprintf(&buf, "# The agents need hic on PATH, $%s (the signing key file) and $%s (REGISTRY/PREFIX).\n", BuildkiteEnv.Key, BuildkiteEnv.Registry)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&pipeline.Pipeline{Steps: steps}); err != nil {
		return nil, fmt.Errorf("plan %s: buildkite pipeline: %w", p.Digest, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
