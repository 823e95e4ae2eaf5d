package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/mirror"
)

type mirrorOptions struct {
	out    string
	scale  float64
	format string
}

func newMirrorCmd(root *rootOptions) *cobra.Command {
	o := &mirrorOptions{}
	cmd := &cobra.Command{
		Use:   "mirror [REF...]",
		Short: "Generate a signed local APK mirror holding every package the catalog needs",
		Long: `Mirror writes a signed local APK repository per distro with a synthetic but
realistic package universe: every package the selected specs name, at the
pinned versions, with their entrypoint binaries, base layouts, shells and
package managers. It writes OUT/mirrors.json mapping each catalog repository
URL to its directory; hic build --mirrors OUT builds from it with no network.

The mirror holds exactly what the selected specs need: generating it for a
few REFs replaces a mirror made for the whole catalog (the signing keys are
kept). Use a separate --out for a partial mirror. --out must lie outside the
catalog root (exit 2 otherwise).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.format, formatText, formatJSON); err != nil {
				return usageError("mirror: %v", err)
			}
			if !(o.scale > 0 && o.scale <= 1) { // also rejects NaN
				return usageError("--scale %v: want a factor in (0, 1]", o.scale)
			}
			if err := refuseInsideCatalog(root, "mirror", "--out", o.out, "the mirror's packages and signing key"); err != nil {
				return err
			}
			l, err := loadOrFail(cmd, root, time.Now().UTC(), args...)
			if err != nil {
				return err
			}
			specs, err := l.selectSpecs(args)
			if err != nil {
				return err
			}
			// A spec the distro's universe cannot serve fails here with the
			// findings hic build and hic vet report for it.
			if err := refuseFailing(cmd, root, l, specs, universeRule); err != nil {
				return err
			}
			imgs, err := compile.All(specs)
			if err != nil {
				return err
			}
			m, err := mirror.Generate(cmd.Context(), imgs, mirror.Options{Dir: o.out, Scale: o.scale, Universes: l.universes})
			if err != nil {
				return err
			}
			if o.format == formatJSON {
				type repo struct {
					URL string `json:"url"`
					Dir string `json:"dir"`
				}
				type distro struct {
					Distro   string `json:"distro"`
					Universe string `json:"universe,omitempty"` // its snapshot; empty: packages invented
				}
				res := struct {
					Out          string   `json:"out"`
					Specs        int      `json:"specs"`
					Repositories []repo   `json:"repositories"`
					Distros      []distro `json:"distros"`
				}{Out: o.out, Specs: len(specs), Repositories: []repo{}}
				for _, mm := range m.Mirrors {
					res.Repositories = append(res.Repositories, repo{mm.URL, mm.Dir})
				}
				for _, d := range sortedDistros(specs) {
					x := distro{Distro: d}
					if u := l.universes[d]; u != nil {
						x.Universe = universeSnapshot(u)
					}
					res.Distros = append(res.Distros, x)
				}
				return writeJSON(cmd.OutOrStdout(), res)
			}
			for _, mm := range m.Mirrors {
				fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s\n", mm.URL, mm.Dir)
			}
			for _, d := range sortedDistros(specs) {
				if u := l.universes[d]; u != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: packages from the universe (%s)\n", d, universeSnapshot(u))
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: no universe (catalog/universe/%s.txt): every package an image names is invented\n", d, d)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "mirror for %s written to %s\n", count(len(specs), "spec"), o.out)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "out/mirror", "mirror root directory")
	cmd.Flags().Float64Var(&o.scale, "scale", 0.001, "fraction of realistic package sizes")
	cmd.Flags().StringVarP(&o.format, "format", "o", formatText, "output format: text or json")
	return cmd
}
