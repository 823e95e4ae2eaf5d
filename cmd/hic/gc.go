package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/store"
)

type gcOptions struct{ layout string }

func newGCCmd(root *rootOptions) *cobra.Command {
	o := &gcOptions{}
	cmd := &cobra.Command{
		Use:   "gc [--layout out/oci]",
		Short: "Remove the blobs of replaced images from the OCI layout",
		Long: `Gc removes from the layout every blob that no index.json entry reaches:
the layers, manifests and attestations of images that a later build replaced.
It takes the layout's lock, so it never runs beside a build.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fi, err := os.Stat(o.layout); err != nil || !fi.IsDir() {
				return usageError("gc: --layout %s is not a directory", o.layout)
			}
			st, err := store.Open(cmd.Context(), o.layout)
			if err != nil {
				return err
			}
			defer st.Close()
			removed, freed, err := st.GC(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d unreachable blobs (%d bytes) from %s\n", removed, freed, o.layout)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.layout, "layout", "out/oci", "OCI image layout")
	return cmd
}
