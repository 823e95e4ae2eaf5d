package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hic-build/hic/compiler/plan"
	"github.com/hic-build/hic/compiler/report"
)

type planOptions struct {
	shards int
	report string
	format string
	today  string
}

const planLong = `Plan splits the selected specs (REF..., or the whole catalog) into N shards
for a sharded build: one CI matrix job or one Kubernetes Indexed Job pod per
shard, each running hic build --shard I/N with the same selection.

The split is deterministic (every machine computes the same plan), balanced by
an estimated cost (packages x platforms, or the durations of a previous build
with --report), and stable: adding a spec moves few others. --format json
prints one line for a CI matrix:

  [{"shard":0,"refs":["..."],"cost":123}, ...]

--format buildkite prints a Buildkite pipeline to upload from a step
(hic plan --shards 4 --format buildkite | buildkite-agent pipeline upload):
one step per shard running hic build --shard I/4 into shard-I/, signed with
the key file $HIC_KEY and pushed to $HIC_REGISTRY (its registry cache too),
then one step that merges the shard reports.

A build given --report here must get the same file as --shard-report.

  GitHub Actions:  matrix: include: ${{ fromJSON(needs.plan.outputs.shards) }}
                   run: hic build --all --shard ${{ matrix.shard }}/4
  Kubernetes:      hic build --all --shard $JOB_COMPLETION_INDEX/4
  then:            hic report merge out/report.json shard-*/report.json`

func newPlanCmd(root *rootOptions) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan --shards N [REF...]",
		Short: "Split the catalog build into N deterministic, balanced shards",
		Long:  planLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.shards < 1 || o.shards > plan.MaxShards {
				return usageError("--shards %d: want 1 to %d", o.shards, plan.MaxShards)
			}
			if err := checkFormat(o.format, formatText, formatJSON, formatBuildkite); err != nil {
				return usageError("%v", err)
			}
			prev, err := readPlanReport(o.report)
			if err != nil {
				return err
			}
			today, err := parseToday(o.today)
			if err != nil {
				return err
			}
			_, imgs, err := compileSelected(cmd, root, args, today)
			if err != nil {
				return err
			}
			p, err := plan.New(imgs, prev, o.shards)
			if err != nil {
				return err
			}
			shards := p.Shards
			w := cmd.OutOrStdout()
			if o.format == formatBuildkite {
				b, err := p.Buildkite(o.shardBuild(root, args))
				if err != nil {
					return err
				}
				_, err = w.Write(b)
				return err
			}
			if o.format == "json" {
				b, err := json.Marshal(shards)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(w, "%s\n", b)
				return err
			}
			unit := "packages x platforms"
			if prev != nil {
				unit = "ms"
			}
			fmt.Fprintf(w, "%s in %s (cost in %s), plan %s\n", count(len(imgs), "spec"), count(len(shards), "shard"), unit, p.Digest)
			for _, s := range shards {
				fmt.Fprintf(w, "\nshard %d/%d: %d specs, cost %d\n", s.Index, len(shards), len(s.Refs), s.Cost)
				for _, r := range s.Refs {
					fmt.Fprintf(w, "  %s\n", r)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.shards, "shards", "n", 0, "number of shards, 1 to 1000 (required)")
	f.StringVar(&o.report, "report", "", "report.json of an earlier build whose durations balance the plan")
	f.StringVarP(&o.format, "format", "o", "text", "output format: text, json (one line, for a CI matrix) or buildkite (a pipeline to upload)")
	f.StringVar(&o.today, "today", "", "judge end-of-life against this date (YYYY-MM-DD)")
	return cmd
}

// shardBuild is the hic build command line that builds this plan's
// selection, for each shard to extend with its --shard I/N: the same
// catalog, refs (or --all), date and cost report.
func (o *planOptions) shardBuild(root *rootOptions, refs []string) []string {
	cmd := []string{"hic"}
	if root.catalog != "" {
		cmd = append(cmd, "-C", buildkiteArg(root.catalog))
	}
	cmd = append(cmd, "build")
	if len(refs) == 0 {
		cmd = append(cmd, "--all")
	}
	for _, r := range refs {
		cmd = append(cmd, buildkiteArg(r))
	}
	if o.today != "" {
		cmd = append(cmd, "--today", buildkiteArg(o.today))
	}
	if o.report != "" {
		cmd = append(cmd, "--shard-report", buildkiteArg(o.report))
	}
	return cmd
}

// buildkiteArg quotes s for the shell and doubles every $ so that
// Buildkite's pipeline upload leaves it to the shell.
func buildkiteArg(s string) string { return strings.ReplaceAll(shellQuote(s), "$", "$$") }

// readPlanReport reads the earlier build's report that balances a plan; none for "".
func readPlanReport(path string) (*report.Report, error) {
	if path == "" {
		return nil, nil
	}
	r, err := report.ReadReport(path)
	if err != nil {
		return nil, usageError("read report: %w", err)
	}
	return r, nil
}

// shardFlags are hic build's --shard I/N and --shard-report: the build's
// selection (REF... or --all), compiled once, is split as hic plan --shards N
// splits it, and the build runs on shard I's specs only. An empty shard
// writes an empty report, so the merge step finds one report per shard.
type shardFlags struct {
	shard, report string
}

func (f *shardFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.shard, "shard", "", "build only shard I of N (0-based) of the plan hic plan --shards N prints: I/N")
	fs.StringVar(&f.report, "shard-report", "", "with --shard: the report.json hic plan was given with --report")
}

// shard is a parsed --shard I/N.
type shard struct{ i, n int }

// parse reads --shard I/N (0 <= I < N); nil without --shard.
func (f *shardFlags) parse() (*shard, error) {
	if f.shard == "" {
		if f.report != "" {
			return nil, usageError("--shard-report needs --shard")
		}
		return nil, nil
	}
	a, b, ok := strings.Cut(f.shard, "/")
	i, errI := strconv.Atoi(a)
	n, errN := strconv.Atoi(b)
	if !ok || errI != nil || errN != nil || n < 1 || i < 0 || i >= n {
		return nil, usageError("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", f.shard)
	}
	if n > plan.MaxShards {
		return nil, usageError("--shard %q: at most %d shards", f.shard, plan.MaxShards)
	}
	return &shard{i, n}, nil
}
