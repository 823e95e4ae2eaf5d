package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/publish"
)

// inCatalog keeps the images whose spec is in the catalog: a layout may
// still hold the images of specs removed since it was built, and publish
// never pushes those. Each one left out is named on stderr with the way to
// drop it from the layout. Images hic built name their spec; a layout of
// images without one (written by another tool) needs no catalog.
func inCatalog(cmd *cobra.Command, root *rootOptions, images []publish.Image) ([]publish.Image, error) {
	if !slices.ContainsFunc(images, func(img publish.Image) bool { return img.SpecRef != "" }) {
		return images, nil
	}
	l, err := loadOrFail(cmd, root, time.Now())
	if err != nil {
		return nil, err
	}
	specs := make(map[string]bool, len(l.catalog.Specs))
	for _, s := range l.catalog.Specs {
		specs[s.Ref] = true
	}
	kept := images[:0:0]
	for _, img := range images {
		if img.SpecRef != "" && !specs[img.SpecRef] {
			fmt.Fprintf(cmd.ErrOrStderr(), "publish: skipping %s: spec %s is not in the catalog (hic gc --prune removes it from the layout)\n", img.Name(), img.SpecRef)
			continue
		}
		kept = append(kept, img)
	}
	return kept, nil
}
