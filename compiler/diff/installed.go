package diff

import (
	"maps"
	"slices"
	"strings"
)

// Installed is what a spec's lock resolved: APK architecture ("x86_64") ->
// package name -> version. hic build writes it next to each compiled spec.
type Installed map[string]map[string]string

// AddInstalled adds to d the changes in the resolved packages of the specs
// that base and head both have locks for, as fields "installed.ARCH" keyed
// by package name: the versions the images really hold, unpinned and
// indirect packages included. A spec whose compiled form did not change but
// whose packages did becomes changed. base and head may only hold specs of
// the catalogs d compares, on the same side.
func (d *Diff) AddInstalled(base, head map[string]Installed) {
	onlyOneSide := map[string]bool{}
	for _, r := range slices.Concat(d.Added, d.Removed) {
		onlyOneSide[r] = true
	}
	at := map[string]int{}
	for i, s := range d.Changed {
		at[s.Ref] = i
	}
	for _, ref := range slices.Sorted(maps.Keys(head)) {
		b, ok := base[ref]
		if !ok || onlyOneSide[ref] {
			continue
		}
		h := head[ref]
		var changes []Change
		archs := map[string]bool{}
		for a := range b {
			archs[a] = true
		}
		for a := range h {
			archs[a] = true
		}
		for _, arch := range slices.Sorted(maps.Keys(archs)) {
			changes = append(changes, compareFacet("installed."+arch, pinned(b[arch]), pinned(h[arch]))...)
		}
		if len(changes) == 0 {
			continue
		}
		if i, ok := at[ref]; ok {
			d.Changed[i].Changes = append(d.Changed[i].Changes, changes...)
			continue
		}
		d.Changed = append(d.Changed, SpecDiff{Ref: ref, Changes: changes})
		at[ref] = len(d.Changed) - 1
		d.Unchanged--
	}
	slices.SortFunc(d.Changed, func(a, b SpecDiff) int { return strings.Compare(a.Ref, b.Ref) })
}

// pinned renders name -> version as facet items "name=version" keyed by name.
func pinned(pkgs map[string]string) facet {
	items := make(map[string]string, len(pkgs))
	for name, v := range pkgs {
		items[name] = name + "=" + v
	}
	return facet{items: items}
}
