package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/report"
)

// refusal is the error for specs that must not be published: each named
// with why its report fails.
func refusal(cmd string, reportPath string, refused []string, why map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: refusing %d spec(s) whose last build in %s has a failing finding (nothing was pushed):", cmd, len(refused), reportPath)
	for _, ref := range refused {
		fmt.Fprintf(&b, "\n  %s: %s", ref, why[ref])
	}
	b.WriteString("\nfix and rebuild them, or name the images to publish without them")
	return &exitError{code: exitFindings, err: errors.New(b.String())}
}

// publishReport reads the build report that goes with a layout: path when
// given, else report.json next to the layout (OUT/report.json for OUT/oci).
// A missing default report is no report (nil, "", nil); one that exists but
// cannot be read or parsed is refused, not taken for none: it lists the
// specs whose last build failed, which publish must not push.
func publishReport(path, layoutDir string) (*report.Report, string, error) {
	explicit := path != ""
	if !explicit {
		path = filepath.Join(filepath.Dir(filepath.Clean(layoutDir)), "report.json")
	}
	r, err := report.ReadEarlier(path)
	switch {
	case err != nil:
		return nil, path, usageError("publish: %v", err)
	case r == nil && explicit:
		return nil, path, usageError("publish: --report %s: no such file", path)
	}
	return r, path, nil
}

// excludeEachOther is the usage error of two flags given together that ask
// for opposite things: it names both, so neither wins unsaid, and says how
// to choose.
func excludeEachOther(command, a, b, choose string) error {
	return usageError("%s: %s and %s exclude each other: %s", command, a, b, choose)
}

// refuseInsideCatalog refuses an output directory (flag dir) inside the
// catalog root, as hic build refuses its --out: what is written there
// (what names it) would be committed with the catalog's files. A catalog
// root that cannot be found refuses nothing.
func refuseInsideCatalog(root *rootOptions, cmdName, flag, dir, what string) error {
	catRoot, err := catalog.FindRoot(root.catalog)
	if err != nil {
		return nil
	}
	in, err := fsutil.Within(dir, catRoot)
	if err != nil {
		return usageError("%s: %s %s: %v", cmdName, flag, dir, err)
	}
	if in {
		return usageError("%s: %s %s is inside the catalog root %s: %s would become part of the catalog; give a directory outside it (say %s %s)",
			cmdName, flag, dir, catRoot, what, flag, filepath.Join(filepath.Dir(catRoot), filepath.Base(filepath.Clean(dir))))
	}
	return nil
}
