package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/hic-build/hic/compiler/compile"
)

type showOptions struct {
	format   string
	compiled bool
}

func newShowCmd(root *rootOptions) *cobra.Command {
	o := &showOptions{}
	cmd := &cobra.Command{
		Use:   "show REF",
		Short: "Show one spec as evaluated (YAML or JSON)",
		Long: `Show prints one spec as the schema evaluates it, with every default filled in.
REF must name exactly one spec: IMAGE:STREAM-DISTRO-VARIANT, e.g. nginx:1.31-wolfi-dev,
or an image tag, e.g. nginx:latest.
With --compiled it prints the compiled form (the apko configuration and policy).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format == formatText { // a spec reads best as YAML
				o.format = "yaml"
			}
			if err := checkFormat(o.format, formatText, "yaml", formatJSON); err != nil {
				return usageError("show: %v", err)
			}
			l, err := loadOrFail(cmd, root, time.Now().UTC(), args...)
			if err != nil {
				return err
			}
			specs, err := l.selectSpecs(args)
			if err != nil {
				return err
			}
			if len(specs) != 1 {
				refs := make([]string, len(specs))
				for i, s := range specs {
					refs[i] = s.Ref
				}
				return usageError("%s names %d specs; name one of: %s", args[0], len(specs), strings.Join(refs, ", "))
			}
			var v any = specs[0]
			if o.compiled {
				img, err := compile.Compile(specs[0])
				if err != nil {
					return err
				}
				v = img
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			if o.format == "json" {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return err
			}
			var generic any
			if err := json.Unmarshal(b, &generic); err != nil {
				return err
			}
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			return enc.Encode(generic)
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "o", formatText, "output format: text (YAML), yaml or json")
	cmd.Flags().BoolVar(&o.compiled, "compiled", false, "show the compiled image instead of the spec")
	return cmd
}
