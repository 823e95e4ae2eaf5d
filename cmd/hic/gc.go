package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/store"
)

type gcOptions struct {
	layout string
	prune  bool
	dryRun bool
	format string
}

// gcResult is what hic gc -o json prints.
type gcResult struct {
	Layout string     `json:"layout"`
	DryRun bool       `json:"dryRun"`
	Pruned []gcPruned `json:"pruned,omitempty"`
	Blobs  int        `json:"blobs"`
	Bytes  int64      `json:"bytes"`
}

type gcPruned struct {
	Spec   string   `json:"spec"`
	Digest string   `json:"digest"`
	Tags   []string `json:"tags"`
}

func newGCCmd(root *rootOptions) *cobra.Command {
	o := &gcOptions{}
	cmd := &cobra.Command{
		Use:   "gc [--layout out/oci] [--prune] [--dry-run]",
		Short: "Remove the blobs of replaced images, and with --prune the images of removed specs",
		Long: `Gc removes from the layout every blob that no index.json entry reaches:
the layers, manifests and attestations of images that a later build replaced.

With --prune it first removes from index.json the images (every tag) and
attestations of specs that are no longer in the catalog (-C/--catalog), so
hic publish cannot push them again; their blobs then go the same way.
--dry-run lists what would be removed and changes nothing; it works on a
read-only layout too.

It takes the layout's lock exclusively, so it never runs beside a build or
beside a command reading the layout (publish, verify, attestations, site),
whose blobs it could remove: it refuses at once (exit 2), naming the process
that holds the lock. A dry run only reads, so it takes the lock shared, beside
other readers (on a read-only layout, with the lock file opened for reading,
or without a lock where there is no lock file to open).

  hic gc --prune --dry-run     the images of removed specs, and the blobs to free
  hic gc --prune               remove them`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(o.format, formatText, formatJSON); err != nil {
				return usageError("gc: %v", err)
			}
			if fi, err := os.Stat(o.layout); err != nil || !fi.IsDir() {
				return usageError("gc: --layout %s is not a directory", o.layout)
			}
			var inCatalog map[string]bool
			if o.prune {
				l, err := loadOrFail(cmd, root, time.Now())
				if err != nil {
					return err
				}
				inCatalog = make(map[string]bool, len(l.catalog.Specs))
				for _, s := range l.catalog.Specs {
					inCatalog[s.Ref] = true
				}
			}
			open := store.Open
			if o.dryRun {
				open = store.OpenReadOnly
			}
			st, err := open(cmd.Context(), o.layout)
			if err != nil {
				var inUse *store.InUseError
				if errors.As(err, &inUse) {
					return usageError("gc: %v", err)
				}
				if !o.dryRun && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
					return usageError("gc: %v: gc removes blobs, so it needs write access to the layout (gc --dry-run lists them without)", err)
				}
				return err
			}
			defer st.Close()
			w := cmd.OutOrStdout()
			res := gcResult{Layout: o.layout, DryRun: o.dryRun}
			done := func() error {
				if o.format == formatJSON {
					return writeJSON(cmd.OutOrStdout(), res)
				}
				return nil
			}
			if o.format == formatJSON {
				w = io.Discard
			}
			verb := "removed"
			if o.dryRun {
				verb = "would remove"
			}
			gc := st.GC
			if o.prune {
				keep := func(ref string) bool { return inCatalog[ref] }
				gone, err := st.Prune(cmd.Context(), keep, o.dryRun)
				if err != nil {
					return err
				}
				for _, r := range gone {
					res.Pruned = append(res.Pruned, gcPruned{r.SpecRef, r.Descriptor.Digest.String(), r.Refs})
					fmt.Fprintf(w, "%s %s %s (not in the catalog; tags %v)\n", verb, r.SpecRef, r.Descriptor.Digest, r.Refs)
				}
				fmt.Fprintf(w, "%s %s of specs not in the catalog\n", verb, count(len(gone), "image"))
				// The blobs a prune frees are reachable until it runs: a dry
				// run counts them as the real run will, without the
				// entries it would remove.
				gc = func(ctx context.Context, dryRun bool) (int, int64, error) {
					return st.GCAfterPrune(ctx, keep, dryRun)
				}
			}
			removed, freed, err := gc(cmd.Context(), o.dryRun)
			if err != nil {
				return err
			}
			res.Blobs, res.Bytes = removed, freed
			why := "unreachable"
			if o.prune && o.dryRun {
				why = "unreachable after the prune"
			}
			fmt.Fprintf(w, "%s %s (%d bytes, %s) from %s\n", verb, count(removed, "blob"), freed, why, o.layout)
			return done()
		},
	}
	cmd.Flags().StringVar(&o.layout, "layout", "out/oci", "OCI image layout")
	cmd.Flags().BoolVar(&o.prune, "prune", false, "also remove the images of specs no longer in the catalog")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "list what would be removed; change nothing")
	cmd.Flags().StringVarP(&o.format, "format", "o", formatText, "output format: text or json")
	return cmd
}
