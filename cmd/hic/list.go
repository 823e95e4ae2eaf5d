package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/finding"
)

type listOptions struct{ format string }

func newListCmd(root *rootOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list [REF...]",
		Short: "List the catalog's specs (image, stream, version, distro, variant, tags)",
		Long: `List prints one line per spec. REF narrows the list; the grammar is
IMAGE[:STREAM[-DISTRO[-VARIANT]]], e.g. nginx, nginx:1.31, nginx:1.31-wolfi-dev,
or an image tag, e.g. nginx:latest.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format == "table" { // the name before text
				o.format = formatText
			}
			if err := checkFormat(o.format, formatText, formatJSON); err != nil {
				return usageError("list: %v", err)
			}
			l, err := loadOrFail(cmd, root, time.Now().UTC(), args...)
			if err != nil {
				return err
			}
			specs, err := l.selectSpecs(args)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.format == "json" {
				type row struct {
					Ref        string   `json:"ref"`
					Image      string   `json:"image"`
					Stream     string   `json:"stream"`
					Version    string   `json:"version"`
					Distro     string   `json:"distro"`
					Variant    string   `json:"variant"`
					Repository string   `json:"repository"`
					Tags       []string `json:"tags"`
					EndOfLife  string   `json:"endOfLife,omitempty"`
					File       string   `json:"file"`
				}
				rows := make([]row, 0, len(specs))
				for _, s := range specs {
					rows = append(rows, row{s.Ref, s.Image, s.Stream, s.Version, s.Distro, s.Variant, s.Repository, s.Tags, s.Dates.EOL, s.File})
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tSTREAM\tVERSION\tDISTRO\tVARIANT\tTAGS")
			for _, s := range specs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Image, s.Stream, s.Version, s.Distro, s.Variant, strings.Join(s.Tags, ","))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s in %s\n", count(len(specs), "spec"), count(images(specs), "image"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "o", formatText, "output format: text (a table) or json")
	return cmd
}

// loadOrFail loads the catalog for commands that work on specs: syntax and
// schema errors are printed like vet prints them, and the command fails.
// When refs name images by their folders, only those folders are evaluated.
func loadOrFail(cmd *cobra.Command, root *rootOptions, today time.Time, refs ...string) (*loaded, error) {
	r, err := catalog.FindRoot(root.catalog)
	if err != nil {
		return nil, usageError("%v", err)
	}
	l, err := root.loadAndCheckDirs(cmd.Context(), r, today, catalog.ImageDirs(r, refs))
	if err != nil {
		return nil, err
	}
	var broken []finding.Finding
	for _, f := range l.catalog.Findings {
		f.Pos = displayPos(r, f.Pos)
		broken = append(broken, f)
	}
	if len(broken) > 0 {
		writeFindings(cmd.ErrOrStderr(), broken)
		return nil, usageError("the catalog does not load; fix the errors above (hic vet shows them too)")
	}
	return l, nil
}
