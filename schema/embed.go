// Package schema holds the hardening schema: the CUE definitions every catalog
// spec is checked against (image.cue, types.cue), the distro and variant
// tables, and the table of hardening rules (rules.cue). The CUE files are
// embedded into the hic binary; the loader overlays them onto the catalog.
package schema

import (
	"embed"
	"fmt"
)

// FS holds the schema's CUE files at its root.
//
//go:embed *.cue
var FS embed.FS

// Package is the CUE package name shared by the schema and catalog files.
const Package = "hic"

// CUE paths the Go code reads. They are the one place Go names schema fields.
const (
	// ImagesPath is the field holding the catalog's images, keyed by name.
	ImagesPath = "images"
	// AdvisoriesPath is the field holding the catalog's advisories, keyed by
	// package name; they are written in the catalog folder AdvisoriesDir.
	AdvisoriesPath = "advisories"
	AdvisoriesDir  = "advisories"
	// RepositoriesPath is the field holding the catalog's extra APK
	// repositories, keyed by name; they are written in the catalog folder
	// RepositoriesDir and every image evaluates with them.
	RepositoriesPath = "repositories"
	RepositoriesDir  = "repositories"
	// UniverseDir is the catalog folder of the package universes (text
	// files, compiler/universe); like AdvisoriesDir and RepositoriesDir it
	// is no image's folder.
	UniverseDir = "universe"
	// SpecsField is the field of an image holding its derived specs, keyed by ref.
	SpecsField = "specs"
	// StreamsField is the field of an image holding its streams.
	StreamsField = "streams"
	// RulesPath is the definition holding the rule table.
	RulesPath = "#Rules"
	// DistrosPath and VariantsPath hold the distro and variant tables.
	DistrosPath  = "#Distros"
	VariantsPath = "#Variants"
)

// AdvisoriesWrittenTwice is the fix of a conflict between two advisory
// lists of package pkg (two `advisories: PKG: [...]` blocks): CUE unifies
// lists entry by entry, so the second list's entries conflict with the
// first's instead of adding to them.
func AdvisoriesWrittenTwice(pkg string) string {
	return fmt.Sprintf("the advisories of %s are written as two lists, which CUE unifies entry by entry: add the entry to the existing list (advisories: %s: [{...}, {id: ...}]) and remove the second", pkg, pkg)
}
