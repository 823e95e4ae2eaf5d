package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/plan"
	"github.com/hic-build/hic/compiler/report"
)

func newReportCmd(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Work with build reports (report.json)",
	}
	cmd.AddCommand(newReportMergeCmd(root))
	return cmd
}

const reportMergeLong = `Merge joins the reports of a sharded build (out/report.json of each
hic build --shard I/N) into the report of the whole build, written to OUT.json.

The hic and apko versions and the signing key must agree; specs are merged by
ref, and a ref two reports give different results for is an error; counts are
summed; the duration is the longest shard's. Exit status 1 if the merged
build failed (as hic build's would), 2 if the reports cannot be read or merged.`

func newReportMergeCmd(_ *rootOptions) *cobra.Command {
	format := formatText
	cmd := &cobra.Command{
		Use:   "merge OUT.json IN.json...",
		Short: "Join shard reports into one report",
		Long:  reportMergeLong,
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatText, formatJSON); err != nil {
				return usageError("report merge: %v", err)
			}
			out, ins := args[0], args[1:]
			srcs := make([]plan.Source, 0, len(ins))
			for _, in := range ins {
				r, err := report.ReadReport(in)
				if err != nil {
					return usageError("read report: %w", err)
				}
				srcs = append(srcs, plan.Source{Name: in, Report: r})
			}
			merged, err := plan.Merge(srcs)
			if err != nil {
				return usageError("%w", err)
			}
			if err := merged.WriteFile(out); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			w := cmd.OutOrStdout()
			if format == formatJSON {
				// The data is the merged report itself, as written to OUT.
				if err := writeJSON(w, merged); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "merged %d reports into %s\n", len(ins), out)
				merged.WriteSummary(w)
			}
			if merged.Failed() {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "o", formatText, "output format: text or json (the merged report)")
	return cmd
}
