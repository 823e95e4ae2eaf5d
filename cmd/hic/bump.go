package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/bump"
	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/fsutil"
)

type bumpOptions struct {
	dryRun bool
	format string
}

const bumpLong = `Bump moves the version pin of each selected stream to the newest version its
distro's package universe (CATALOG/universe/DISTRO.txt) has within the stream
("1.31" takes 1.31.x builds only), writes the new pin where the catalog
writes it, formats the file, and lists what changed.

It is the continuous-patching loop: refresh a universe with hic index import,
run hic bump, then hic vet and hic diff show the effect of the PR.
Without REF every stream is bumped. A pin shared by distros whose newest
versions differ is reported, not guessed.`

func newBumpCmd(root *rootOptions) *cobra.Command {
	o := &bumpOptions{}
	cmd := &cobra.Command{
		Use:   "bump [REF...]",
		Short: "Move stream pins to the newest version the package universe has",
		Long:  bumpLong,
		Example: `  hic bump nginx:1.31
  hic bump --dry-run`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.format, formatText, formatJSON); err != nil {
				return usageError("bump: %v", err)
			}
			l, err := loadOrFail(cmd, root, time.Now().UTC(), args...)
			if err != nil {
				return err
			}
			specs, err := l.selectSpecs(args)
			if err != nil {
				return err
			}
			catRoot, err := catalog.FindRoot(root.catalog)
			if err != nil {
				return usageError("%v", err)
			}
			changes, skips := bump.Plan(specs, l.universes)
			write := func(path string, b []byte) error { return fsutil.WriteFileAtomic(path, b, 0o644) }
			if o.dryRun {
				write = func(string, []byte) error { return nil }
			}
			applied, more, files, err := bump.Apply(catRoot, changes, write)
			if err != nil {
				return err
			}
			skips = append(skips, more...)
			w := cmd.OutOrStdout()
			if o.format == formatJSON {
				type pin struct {
					Pos     string   `json:"pos"`
					Package string   `json:"package"`
					From    string   `json:"from"`
					To      string   `json:"to"`
					Specs   []string `json:"specs"`
				}
				type skip struct {
					Specs  []string `json:"specs"`
					Reason string   `json:"reason"`
				}
				res := struct {
					DryRun  bool   `json:"dryRun"`
					Bumped  []pin  `json:"bumped"`
					Skipped []skip `json:"skipped"`
					Files   int    `json:"files"`
				}{DryRun: o.dryRun, Bumped: []pin{}, Skipped: []skip{}, Files: len(files)}
				for _, c := range applied {
					res.Bumped = append(res.Bumped, pin{displayPos(catRoot, c.Pos).String(), c.Package, c.From, c.To, c.Refs})
				}
				for _, s := range skips {
					res.Skipped = append(res.Skipped, skip{s.Refs, s.Reason})
				}
				return writeJSON(w, res)
			}
			for _, c := range applied {
				fmt.Fprintf(w, "%s: %s %s -> %s (%s)\n", displayPos(catRoot, c.Pos), c.Package, c.From, c.To, strings.Join(c.Refs, ", "))
			}
			noUniverse := map[string]int{}
			byReason := map[string][]string{}
			var reasons []string
			for _, s := range skips {
				if d, ok := strings.CutPrefix(s.Reason, "no universe for "); ok {
					noUniverse[d] += len(s.Refs)
					continue
				}
				if _, ok := byReason[s.Reason]; !ok {
					reasons = append(reasons, s.Reason)
				}
				byReason[s.Reason] = append(byReason[s.Reason], s.Refs...)
			}
			for _, r := range reasons {
				refs := byReason[r]
				sort.Strings(refs)
				fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s: %s\n", strings.Join(abbrev(refs), ", "), r)
			}
			var ds []string
			for d, n := range noUniverse {
				ds = append(ds, fmt.Sprintf("%s (%d specs)", d, n))
			}
			sort.Strings(ds)
			if len(ds) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "not bumped, no universe: %s\n", strings.Join(ds, ", "))
			}
			verb := "bumped"
			if o.dryRun {
				verb = "would bump"
			}
			fmt.Fprintf(w, "%s %d pins in %d files", verb, len(applied), len(files))
			if len(applied) > 0 && !o.dryRun {
				fmt.Fprint(w, "; hic vet checks them, hic diff shows what the images gain")
			}
			fmt.Fprintln(w)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&o.dryRun, "dry-run", "n", false, "list the changes without writing them")
	cmd.Flags().StringVarP(&o.format, "format", "o", formatText, "output format: text or json")
	return cmd
}
