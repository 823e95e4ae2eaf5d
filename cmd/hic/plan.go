package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/pipeline"
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
			if o.shards < 1 {
				return usageError("--shards %d: want at least 1", o.shards)
			}
			if o.format != "text" && o.format != "json" {
				return usageError("--format %q: want text or json", o.format)
			}
			prev, err := readPlanReport(o.report)
			if err != nil {
				return err
			}
			today, err := parseToday(o.today)
			if err != nil {
				return err
			}
			imgs, err := compileSelected(cmd, root, args, today)
			if err != nil {
				return err
			}
			shards := plan.Split(plan.Estimate(imgs, prev), o.shards)
			w := cmd.OutOrStdout()
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
			fmt.Fprintf(w, "%s in %s (cost in %s)\n", count(len(imgs), "spec"), count(len(shards), "shard"), unit)
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
	f.IntVarP(&o.shards, "shards", "n", 0, "number of shards (required)")
	f.StringVar(&o.report, "report", "", "report.json of an earlier build whose durations balance the plan")
	f.StringVarP(&o.format, "format", "o", "text", "output format: text or json (one line, for a CI matrix)")
	f.StringVar(&o.today, "today", "", "judge end-of-life against this date (YYYY-MM-DD)")
	return cmd
}

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

// parseShard reads --shard I/N: 0 <= I < N.
func parseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, errI := strconv.Atoi(a)
	n, errN := strconv.Atoi(b)
	if !ok || errI != nil || errN != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usageError("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return i, n, nil
}

// withShard gives hic build --shard I/N and --shard-report: the build's
// selection (REF... or --all) is compiled and split as hic plan --shards N
// splits it, and the build runs on shard I's refs only. An empty shard
// writes an empty report, so the merge step finds one report per shard.
func withShard(root *rootOptions, cmd *cobra.Command) *cobra.Command {
	var shard, report string
	f := cmd.Flags()
	f.StringVar(&shard, "shard", "", "build only shard I of N (0-based) of the plan hic plan --shards N prints: I/N")
	f.StringVar(&report, "shard-report", "", "with --shard: the report.json hic plan was given with --report")
	build := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if shard == "" {
			if report != "" {
				return usageError("--shard-report needs --shard")
			}
			return build(cmd, args)
		}
		i, n, err := parseShard(shard)
		if err != nil {
			return err
		}
		all, err := cmd.Flags().GetBool("all")
		if err != nil {
			return err
		}
		if all == (len(args) > 0) {
			return usageError("name specs (REF...) or pass --all")
		}
		prev, err := readPlanReport(report)
		if err != nil {
			return err
		}
		todayFlag, err := cmd.Flags().GetString("today")
		if err != nil {
			return err
		}
		today, err := parseToday(todayFlag)
		if err != nil {
			return err
		}
		imgs, err := compileSelected(cmd, root, args, today)
		if err != nil {
			return err
		}
		refs := plan.Split(plan.Estimate(imgs, prev), n)[i].Refs
		fmt.Fprintf(cmd.ErrOrStderr(), "shard %d/%d: %d of %d specs\n", i, n, len(refs), len(imgs))
		if len(refs) == 0 {
			return writeEmptyReport(cmd)
		}
		if err := cmd.Flags().Set("all", "false"); err != nil {
			return err
		}
		return build(cmd, refs)
	}
	return cmd
}

// writeEmptyReport writes the report of a build of nothing to OUT/report.json.
func writeEmptyReport(cmd *cobra.Command) error {
	out, err := cmd.Flags().GetString("out")
	if err != nil {
		return err
	}
	r := &report.Report{Status: report.StatusCompleted, HicVersion: version, ApkoVersion: pipeline.ApkoVersion(), Specs: []report.SpecReport{}}
	path := filepath.Join(out, "report.json")
	if err := r.WriteFile(path); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "empty shard; report: %s\n", path)
	return nil
}
