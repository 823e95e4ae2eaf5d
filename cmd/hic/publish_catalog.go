package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/publish"
)

// inCatalog keeps the images whose spec is in the catalog: a layout may
// still hold the images of specs removed since it was built, and publish
// never pushes those. Publishing everything (no refs), each one left out is
// named on stderr with the way to drop it from the layout; an image a ref
// the user named selects is refused instead (exit 2, nothing pushed), since
// publishing it was asked for by name and would otherwise push nothing and
// succeed. Images hic built name their spec; a layout of images without one
// (written by another tool) needs no catalog.
func inCatalog(cmd *cobra.Command, root *rootOptions, images []publish.Image, refs []string) ([]publish.Image, error) {
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
	var kept, gone []publish.Image
	for _, img := range images {
		if img.SpecRef != "" && !specs[img.SpecRef] {
			gone = append(gone, img)
			continue
		}
		kept = append(kept, img)
	}
	if len(refs) > 0 && len(gone) > 0 {
		return nil, notInCatalog(refs, gone)
	}
	for _, img := range gone {
		fmt.Fprintf(cmd.ErrOrStderr(), "publish: skipping %s: spec %s is not in the catalog (hic gc --prune removes it from the layout)\n", img.Name(), img.SpecRef)
	}
	return kept, nil
}

// notInCatalog is the usage error for the named refs that select images of
// specs no longer in the catalog (gone): each ref with the specs, and how to
// go on.
func notInCatalog(refs []string, gone []publish.Image) error {
	type refused struct{ ref, specs string }
	var list []refused
	for _, r := range refs {
		var specs []string
		for _, img := range gone {
			if selects(r, img) && !slices.Contains(specs, img.SpecRef) {
				specs = append(specs, img.SpecRef)
			}
		}
		if len(specs) > 0 {
			list = append(list, refused{r, strings.Join(specs, ", ")})
		}
	}
	const prune = "hic gc --prune removes the images of removed specs from the layout"
	if len(list) == 1 {
		return usageError("publish: refusing %s: spec %s is not in the catalog (nothing was pushed)\nput the spec back in the catalog (-C) to publish it, or leave %s out; %s", list[0].ref, list[0].specs, list[0].ref, prune)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "publish: refusing %d named refs whose specs are not in the catalog (nothing was pushed):", len(list))
	for _, r := range list {
		fmt.Fprintf(&b, "\n  %s: spec %s", r.ref, r.specs)
	}
	b.WriteString("\nput the specs back in the catalog (-C) to publish them, or leave the refs out; " + prune)
	return usageError("%s", b.String())
}

// selects reports whether the ref r selects img, as publish.FromLayout
// reads refs: "repository:tag", "repository" or a spec ref.
func selects(r string, img publish.Image) bool {
	if r == img.Repository || r == img.SpecRef {
		return true
	}
	for _, tag := range img.Tags {
		if r == img.Repository+":"+tag {
			return true
		}
	}
	return false
}
