package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/check"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/universe"
)

type compileOptions struct {
	out   string
	all   bool
	today string
}

func newCompileCmd(root *rootOptions) *cobra.Command {
	o := &compileOptions{}
	cmd := &cobra.Command{
		Use:   "compile [REF...|--all]",
		Short: "Write the flat compiled form of specs (apko config, tags, policy)",
		Long: `Compile writes one flat, stable JSON file per spec (sorted keys) to --out:
the apko image configuration, the tags, the metadata and the hardening policy.
These files are what auditors read and what a PR diff shows. Specs with
failing vet findings are not compiled.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := selectionError("compile", o.all, args); err != nil {
				return err
			}
			if err := refuseInsideCatalog(root, "compile", "--out", o.out, "the compiled specs"); err != nil {
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
			if err := compile.WriteDir(o.out, imgs); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "compiled %s to %s\n", count(len(imgs), "spec"), o.out)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "out/compiled", "directory for the compiled specs")
	cmd.Flags().BoolVar(&o.all, "all", false, "compile every spec of the catalog")
	cmd.Flags().StringVar(&o.today, "today", "", "judge end-of-life against this date (YYYY-MM-DD)")
	return cmd
}

// compileSelected loads the catalog, refuses specs with failing findings
// (printing them as vet does) and compiles the rest of the selection.
func compileSelected(cmd *cobra.Command, root *rootOptions, refs []string, today time.Time) (*catalog.Catalog, []compile.Image, error) {
	opts, err := root.catalogOptions(today)
	if err != nil {
		return nil, nil, err
	}
	c, imgs, err := catalog.Compiled(cmd.Context(), root.catalog, refs, opts)
	if err != nil {
		return nil, nil, catalogError(cmd, root, err)
	}
	return c, imgs, nil
}

// refuseFailing prints the failing findings of specs (those of rules keep
// accepts; nil: all) and returns an error when there are any, so commands
// that would build from them stop with the messages hic vet gives.
func refuseFailing(cmd *cobra.Command, root *rootOptions, l *loaded, specs []*spec.Spec, keep func(rule string) bool) error {
	selected := map[string]bool{}
	for _, s := range specs {
		selected[s.Ref] = true
	}
	var bad []finding.Finding
	r, _ := catalog.FindRoot(root.catalog)
	for _, f := range l.findings {
		if f.Failing() && (f.Ref == "" || selected[f.Ref]) && (keep == nil || keep(f.Rule)) {
			f.Pos = displayPos(r, f.Pos)
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		writeFindings(cmd.ErrOrStderr(), bad)
		return &exitError{code: exitFindings, err: errors.New(catalog.FailingMessage(len(bad)))}
	}
	return nil
}

// universeRule reports whether a rule is checked against the package universe.
func universeRule(rule string) bool {
	switch rule {
	case check.RulePackageExists, check.RulePackageVersion, check.RuleEntrypointProvided, check.RuleInstallScripts:
		return true
	}
	return false
}

// sortedDistros lists the distros of specs.
func sortedDistros(specs []*spec.Spec) []string {
	var out []string
	for _, s := range specs {
		if !slices.Contains(out, s.Distro) {
			out = append(out, s.Distro)
		}
	}
	slices.Sort(out)
	return out
}

// universeSnapshot describes a universe's snapshot: "snapshot 2026-08-22 of https://packages.wolfi.dev/os".
func universeSnapshot(u *universe.Universe) string {
	if len(u.Sources) == 0 {
		return "no snapshot recorded"
	}
	s := u.Sources[0]
	out := "snapshot " + s.Date + " of " + s.URL
	if s.From != "" {
		out += " from " + s.From
	}
	return out
}
