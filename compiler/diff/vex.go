package diff

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/compiler/vex"
)

// FieldVEX is the field of the OpenVEX statements an image's signed
// document would hold, keyed "ID PACKAGE".
const FieldVEX = "vex"

// VEXSide is what one side's OpenVEX statements are made from: the
// catalog's advisories (catalog advisories/*.cue) and, by spec ref, the
// packages each image installs, name -> version ("" when only the build
// knows it).
type VEXSide struct {
	Advisories *vex.Advisories
	Packages   map[string]map[string]string
}

// AddVEX adds to d, for every spec both sides have packages for, the
// changes in the OpenVEX statements its image's signed document would hold
// (field FieldVEX): an advisory added or removed about one of its
// packages, or its status, justification, impact, action, fixed version,
// aliases or dates changed. The compiled form holds no advisories, so a
// spec whose compiled form did not change but whose statements did becomes
// changed. It also lists every advisory that changed, whatever image it is
// about, in d.Advisories.
func (d *Diff) AddVEX(base, head VEXSide) error {
	d.Advisories = compareFacet("advisories", advisoryFacet(base.Advisories), advisoryFacet(head.Advisories))
	onlyOneSide := map[string]bool{}
	for _, r := range slices.Concat(d.Added, d.Removed) {
		onlyOneSide[r] = true
	}
	for _, ref := range slices.Sorted(maps.Keys(head.Packages)) {
		bp, ok := base.Packages[ref]
		if !ok || onlyOneSide[ref] {
			continue
		}
		b, err := statements(base.Advisories, bp)
		if err != nil {
			return fmt.Errorf("%s: base: %w", ref, err)
		}
		h, err := statements(head.Advisories, head.Packages[ref])
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		d.addChanges(ref, compareFacet(FieldVEX, b, h))
	}
	return nil
}

// NarrowAdvisories keeps of d.Advisories those about a package an image of
// sides installs: a diff narrowed to some specs lists the advisories that
// concern them.
func (d *Diff) NarrowAdvisories(sides ...VEXSide) {
	installed := map[string]bool{}
	for _, s := range sides {
		for _, pkgs := range s.Packages {
			for p := range pkgs {
				installed[p] = true
			}
		}
	}
	d.Advisories = slices.DeleteFunc(d.Advisories, func(c Change) bool {
		pkg, _, _ := strings.Cut(c.Key, " ")
		return !installed[pkg]
	})
}

// addChanges appends changes to ref's, making ref changed if it was not.
func (d *Diff) addChanges(ref string, changes []Change) {
	if len(changes) == 0 {
		return
	}
	for i := range d.Changed {
		if d.Changed[i].Ref == ref {
			d.Changed[i].Changes = append(d.Changed[i].Changes, changes...)
			return
		}
	}
	d.Changed = append(d.Changed, SpecDiff{Ref: ref, Changes: changes})
	d.Unchanged--
	slices.SortFunc(d.Changed, func(a, b SpecDiff) int { return strings.Compare(a.Ref, b.Ref) })
}

// statements are the OpenVEX statements of an image installing pkgs, as
// vex.Document makes them, keyed "ID PACKAGE" and rendered as one line.
func statements(adv *vex.Advisories, pkgs map[string]string) (facet, error) {
	items := map[string]string{}
	for name, version := range pkgs {
		for _, a := range adv.For(name) {
			line, err := statementLine(a, version)
			if err != nil {
				return facet{}, err
			}
			items[a.ID+" "+name] = line
		}
	}
	return facet{items: items}, nil
}

// statementLine renders the statement about a for an image installing
// version of its package ("": not known before the build).
func statementLine(a *vex.Advisory, version string) (string, error) {
	status, note := a.Status, ""
	if version != "" {
		st, err := vex.StatusFor(a, version)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", a.Package, a.ID, err)
		}
		status = st
	} else if a.Status == "fixed" {
		note = " (affected if the image installs an older version)"
	}
	return a.ID + " " + a.Package + ": " + advisoryLine(a, status, note), nil
}

// advisoryLine renders a with status (a's own, or the one it gives an
// installed version), note after the fixed version.
func advisoryLine(a *vex.Advisory, status, note string) string {
	var b strings.Builder
	b.WriteString(status)
	switch {
	case status == "not_affected":
		fmt.Fprintf(&b, " (%s): %s", a.Justification, a.Impact)
	case status == "affected" && a.Status == "fixed":
		fmt.Fprintf(&b, ": upgrade %s to %s or later", a.Package, a.Fixed)
	case status == "affected" && a.Action != "":
		fmt.Fprintf(&b, ": %s", a.Action)
	case status == "fixed" && a.Fixed != "":
		fmt.Fprintf(&b, " in %s%s", a.Fixed, note)
	}
	if len(a.Aliases) > 0 {
		fmt.Fprintf(&b, "; aliases %s", strings.Join(a.Aliases, ", "))
	}
	fmt.Fprintf(&b, "; published %s", a.Published.UTC().Format(time.DateOnly))
	if !a.Updated.IsZero() {
		fmt.Fprintf(&b, ", updated %s", a.Updated.UTC().Format(time.DateOnly))
	}
	return b.String()
}

// advisoryFacet is every advisory of adv as written, keyed "PACKAGE ID".
func advisoryFacet(adv *vex.Advisories) facet {
	items := map[string]string{}
	for _, a := range adv.All() {
		items[a.Package+" "+a.ID] = a.Package + " " + a.ID + ": " + advisoryLine(a, a.Status, "")
	}
	return facet{items: items}
}

// ImagePackages are the packages img installs as far as the catalog tells
// before a build, name -> version: those its configuration names, at the
// version it pins ("" when unpinned), and, with the distro's universe u
// (nil: none), their dependencies as the universe resolves them (version
// "": the build's resolver picks it).
func ImagePackages(img compile.Image, u *universe.Universe) map[string]string {
	out := map[string]string{}
	for _, p := range img.Config.Contents.Packages {
		name, version, _ := strings.Cut(p, "=")
		if strings.ContainsAny(name, "<>~") {
			name, version = packageName(p), ""
		}
		out[name] = version
	}
	if u == nil {
		return out
	}
	closure, _ := u.Closure(img.Config.Contents.Packages...)
	for _, p := range closure {
		if _, ok := out[p.Name]; !ok {
			out[p.Name] = ""
		}
	}
	return out
}
