package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/spec"
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
			if o.all == (len(args) > 0) {
				return usageError("name specs (REF...) or pass --all")
			}
			today, err := parseToday(o.today)
			if err != nil {
				return err
			}
			imgs, err := compileSelected(cmd, root, args, today)
			if err != nil {
				return err
			}
			if err := writeCompiled(o.out, imgs); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "compiled %d specs to %s\n", len(imgs), o.out)
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
func compileSelected(cmd *cobra.Command, root *rootOptions, refs []string, today time.Time) ([]compile.Image, error) {
	l, err := loadOrFail(cmd, root, today, refs...)
	if err != nil {
		return nil, err
	}
	specs, err := l.selectSpecs(refs)
	if err != nil {
		return nil, err
	}
	selected := map[string]bool{}
	for _, s := range specs {
		selected[s.Ref] = true
	}
	var bad vetResult
	r, _ := findCatalogRoot(root.catalog)
	for _, f := range l.findings {
		if f.Failing() && (f.Ref == "" || selected[f.Ref]) {
			f.Pos = displayPos(r, f.Pos)
			bad.Findings = append(bad.Findings, f)
			bad.failing++
		}
	}
	if bad.failing > 0 {
		_ = bad.write(cmd.ErrOrStderr(), &vetOptions{format: "text"})
		return nil, &exitError{code: exitFindings, err: fmt.Errorf("%d failing findings; fix them (hic vet) before compiling", bad.failing)}
	}
	spec.SortByRef(specs)
	return compile.All(specs)
}

// writeCompiled writes the flat compiled form of each image into dir, one
// file per spec. A file whose content is unchanged is not rewritten, so its
// timestamp says when the spec last changed.
func writeCompiled(dir string, imgs []compile.Image) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, img := range imgs {
		b, err := compile.Marshal(img)
		if err != nil {
			return err
		}
		if err := writeIfChanged(filepath.Join(dir, compile.FileName(img.Ref)), b); err != nil {
			return err
		}
	}
	return nil
}
