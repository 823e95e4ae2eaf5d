package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/universe"
)

// addWolfiSourceFlags adds the flags that import Wolfi from its melange
// sources instead of signed indexes.
func addWolfiSourceFlags(cmd *cobra.Command, o *indexImportOptions) {
	cmd.Flags().StringVar(&o.wolfiGit, "wolfi-git", "", "import from a git clone (bare is fine) of github.com/wolfi-dev/os instead of indexes: names, versions, dependencies and provides from its melange files")
	cmd.Flags().StringVar(&o.rev, "rev", "HEAD", "with --wolfi-git: the commit to read")
	cmd.Flags().BoolVar(&o.removed, "removed", true, "with --wolfi-git: keep packages deleted in the history as removed=DATE")
}

// importWolfiSource writes the universe of distro from wolfi-dev/os sources.
func importWolfiSource(cmd *cobra.Command, root *rootOptions, distro string, locations []string, o *indexImportOptions) error {
	if len(locations) > 0 {
		return usageError("--wolfi-git reads the source, not indexes: drop %s", locations[0])
	}
	if len(o.keys) > 0 {
		return usageError("--wolfi-git: the source carries no signatures, so --key does not apply (the universe is marked as read from source)")
	}
	u, err := universe.ImportWolfi(cmd.Context(), o.wolfiGit, o.rev, universe.WolfiOptions{Distro: distro, Removed: o.removed})
	if err != nil {
		return &exitError{code: exitFindings, err: err}
	}
	if o.date != "" {
		u.Sources[0].Date = o.date
	}
	out := o.out
	if out == "" {
		out = universe.Dir(root.catalog)
	}
	if err := universe.WriteDir(out, u); err != nil {
		return err
	}
	removed, unverified := 0, 0
	for _, p := range u.Packages {
		if p.Removed != "" {
			removed++
		}
		if p.Unverified {
			unverified++
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %d packages from %s at %s (%s), %d removed in its history, %d with inferred cmd: provides (marked unverified); wrote %s\n",
		distro, len(u.Packages), o.wolfiGit, u.Sources[0].Commit[:12], u.Sources[0].Date, removed, unverified, filepath.Join(out, distro))
	return nil
}
