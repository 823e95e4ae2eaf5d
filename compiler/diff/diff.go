package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hic-build/hic/compiler/compile"
)

// Kind says how one item of a field changed.
type Kind string

// Kinds of change.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// Diff is what a change does to a compiled catalog.
type Diff struct {
	// Added and Removed are the refs only in the head, or only in the base, sorted.
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	// Changed are the specs in both whose compiled form differs, by ref.
	Changed []SpecDiff `json:"changed"`
	// Unchanged counts the specs in both with the same compiled form.
	Unchanged int `json:"unchanged"`
	// Advisories are the catalog's advisories (advisories/*.cue) added,
	// removed or changed, keyed "PACKAGE ID", whatever image they are
	// about (AddVEX).
	Advisories []Change `json:"advisories,omitempty"`
}

// Empty reports whether the change does nothing to the compiled catalog.
func (d *Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 && len(d.Advisories) == 0
}

// SpecDiff is the changes to one spec's compiled form.
type SpecDiff struct {
	Ref     string   `json:"ref"`
	Changes []Change `json:"changes"`
}

// Fields returns the distinct fields that changed, in the order of Changes.
func (s SpecDiff) Fields() []string {
	var out []string
	for _, c := range s.Changes {
		if len(out) == 0 || out[len(out)-1] != c.Field {
			out = append(out, c.Field)
		}
	}
	return out
}

// Change is one changed item of a field. Single-valued fields (entrypoint,
// metadata.version) have no Key; a collection's items are keyed by what
// identifies them (a package by its name, an env var by its name, a tag by
// itself). Old and New are the item rendered as one line, empty on the side
// where it does not exist.
type Change struct {
	Field string `json:"field"`
	Key   string `json:"key,omitempty"`
	Kind  Kind   `json:"kind"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

// Lines renders the change as unified-diff lines: "- field: old" for what the
// base had, "+ field: new" for what the head has.
func (c Change) Lines() []string {
	var out []string
	if c.Kind != Added {
		out = append(out, "- "+c.Field+": "+c.Old)
	}
	if c.Kind != Removed {
		out = append(out, "+ "+c.Field+": "+c.New)
	}
	return out
}

// Compare diffs the compiled catalog base against head, both keyed by spec ref.
func Compare(base, head map[string]compile.Image) (*Diff, error) {
	d := &Diff{Added: []string{}, Removed: []string{}, Changed: []SpecDiff{}}
	for _, ref := range slices.Sorted(maps.Keys(base)) {
		if _, ok := head[ref]; !ok {
			d.Removed = append(d.Removed, ref)
		}
	}
	for _, ref := range slices.Sorted(maps.Keys(head)) {
		b, ok := base[ref]
		if !ok {
			d.Added = append(d.Added, ref)
			continue
		}
		changes, err := Image(b, head[ref])
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			d.Unchanged++
			continue
		}
		d.Changed = append(d.Changed, SpecDiff{Ref: ref, Changes: changes})
	}
	return d, nil
}

// Image returns the changes from one compiled spec to another, field by
// field in the order of the compiled form's importance (packages first);
// within a field the removed items come first, then the changed, then the
// added, each by key.
func Image(base, head compile.Image) ([]Change, error) {
	fb, err := facets(base)
	if err != nil {
		return nil, err
	}
	fh, err := facets(head)
	if err != nil {
		return nil, err
	}
	var out []Change
	// Both sides have the same dedicated fields in the same order; the
	// generic ones ("other") may differ, so merge by field name.
	names := map[string]int{}
	var order []string
	for _, fs := range [][]facet{fb, fh} {
		for _, f := range fs {
			if _, ok := names[f.field]; !ok {
				names[f.field] = f.rank
				order = append(order, f.field)
			}
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		if names[order[i]] != names[order[j]] {
			return names[order[i]] < names[order[j]]
		}
		return order[i] < order[j]
	})
	byName := func(fs []facet) map[string]facet {
		m := make(map[string]facet, len(fs))
		for _, f := range fs {
			m[f.field] = f
		}
		return m
	}
	mb, mh := byName(fb), byName(fh)
	for _, name := range order {
		out = append(out, compareFacet(name, mb[name], mh[name])...)
	}
	return out, nil
}

// facet is one field of a compiled spec as a collection of keyed, rendered
// items. A single-valued field has one item with the empty key.
type facet struct {
	field string
	rank  int
	items map[string]string
}

func compareFacet(field string, b, h facet) []Change {
	keys := map[string]bool{}
	for k := range b.items {
		keys[k] = true
	}
	for k := range h.items {
		keys[k] = true
	}
	// Removed items first, then changed, then added, each by key: read as
	// a diff, a replaced package shows as "- old" above "+ new".
	var removed, changed, added []Change
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		ov, inB := b.items[k]
		nv, inH := h.items[k]
		switch {
		case inB && inH && ov == nv:
		case inB && inH:
			changed = append(changed, Change{Field: field, Key: k, Kind: Changed, Old: ov, New: nv})
		case inB:
			removed = append(removed, Change{Field: field, Key: k, Kind: Removed, Old: ov})
		default:
			added = append(added, Change{Field: field, Key: k, Kind: Added, New: nv})
		}
	}
	return slices.Concat(removed, changed, added)
}

// facets breaks a compiled spec into its fields. The dedicated ones come
// first; whatever else the compiled JSON holds follows as generic fields.
func facets(img compile.Image) ([]facet, error) {
	var fs []facet
	add := func(field string, items map[string]string) {
		fs = append(fs, facet{field: field, rank: len(fs), items: items})
	}
	scalar := func(field, v string) {
		m := map[string]string{}
		if v != "" {
			m[""] = v
		}
		add(field, m)
	}
	set := func(field string, vs []string) {
		m := make(map[string]string, len(vs))
		for _, v := range vs {
			m[v] = v
		}
		add(field, m)
	}
	kv := func(field string, m map[string]string) {
		items := make(map[string]string, len(m))
		for k, v := range m {
			items[k] = k + "=" + v
		}
		add(field, items)
	}
	c := img.Config

	pkgs := map[string]string{}
	for _, p := range c.Contents.Packages {
		pkgs[packageName(p)] = p
	}
	add("packages", pkgs)
	set("tags", img.Tags)
	scalar("repository", img.Repository)
	set("archs", c.Archs)
	scalar("entrypoint", c.Entrypoint.Command)
	scalar("cmd", c.Cmd)
	scalar("work-dir", c.WorkDir)
	scalar("stop-signal", c.StopSignal)
	scalar("accounts.run-as", c.Accounts.RunAs)
	users := map[string]string{}
	for _, u := range c.Accounts.Users {
		gid := ""
		if u.GID != nil {
			gid = strconv.FormatUint(uint64(*u.GID), 10)
		}
		users[u.UserName] = fmt.Sprintf("%s uid=%d gid=%s home=%s", u.UserName, u.UID, gid, u.HomeDir)
	}
	add("accounts.users", users)
	groups := map[string]string{}
	for _, g := range c.Accounts.Groups {
		groups[g.GroupName] = fmt.Sprintf("%s gid=%d members=%s", g.GroupName, g.GID, strings.Join(g.Members, ","))
	}
	add("accounts.groups", groups)
	set("ports", img.Ports)
	kv("environment", c.Environment)
	paths := map[string]string{}
	for _, p := range c.Paths {
		r := fmt.Sprintf("%s %s %04o %d:%d", p.Path, p.Type, p.Permissions, p.UID, p.GID)
		if p.Source != "" {
			r += " source=" + p.Source
		}
		if p.Recursive {
			r += " recursive"
		}
		paths[p.Path] = r
	}
	add("paths", paths)
	set("volumes", c.Volumes)
	exc := map[string]string{}
	for _, e := range img.Policy.Exceptions {
		exc[e.Rule] = e.Rule + ": " + e.Reason
	}
	add("policy.exceptions", exc)
	scalar("policy.runAsUID", strconv.FormatUint(uint64(img.Policy.RunAsUID), 10))
	scalar("policy.runAsUser", img.Policy.RunAsUser)
	scalar("policy.forbidShell", strconv.FormatBool(img.Policy.ForbidShell))
	scalar("policy.forbidPackageManager", strconv.FormatBool(img.Policy.ForbidPackageManager))
	set("policy.shellPaths", img.Policy.ShellPaths)
	set("policy.packageManagerPaths", img.Policy.PackageManagerPaths)
	set("repositories", c.Contents.Repositories)
	set("keyring", c.Contents.Keyring)
	kv("annotations", c.Annotations)
	tests := map[string]string{}
	for _, t := range img.Tests {
		r := t.Name + ": " + strings.Join(t.Command, " ")
		if t.Expect != "" {
			r += " => " + strconv.Quote(t.Expect)
		}
		tests[t.Name] = r
	}
	add("tests", tests)
	set("metadata.categories", img.Metadata.Categories)

	// Everything else, from the compiled JSON itself.
	rest, err := residual(img)
	if err != nil {
		return nil, err
	}
	// Generic fields share one rank, after the dedicated ones, so they sort
	// by name whichever side has them.
	rank := len(fs)
	for _, path := range slices.Sorted(maps.Keys(rest)) {
		fs = append(fs, facet{field: path, rank: rank, items: map[string]string{"": rest[path]}})
	}
	return fs, nil
}

// covered returns the JSON paths of the compiled form the dedicated fields
// above compare; residual drops them and compares the rest leaf by leaf.
func covered() []string {
	return []string{
		"ref", "repository", "tags", "ports", "tests",
		"config.contents.packages", "config.contents.repositories", "config.contents.keyring",
		"config.entrypoint.command", "config.cmd", "config.work-dir", "config.stop-signal",
		"config.accounts.run-as", "config.accounts.users", "config.accounts.groups", "config.archs", "config.environment", "config.paths",
		"config.volumes", "config.annotations",
		"policy.runAsUID", "policy.runAsUser", "policy.forbidShell", "policy.forbidPackageManager",
		"policy.shellPaths", "policy.packageManagerPaths", "policy.exceptions",
		"metadata.categories",
	}
}

// residual flattens the parts of the compiled JSON without a dedicated field
// into path -> compact JSON value. Arrays are leaves: their index is no
// identity worth reporting.
func residual(img compile.Image) (map[string]string, error) {
	b, err := compile.Marshal(img)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("%s: %w", img.Ref, err)
	}
	for _, p := range covered() {
		deletePath(root, strings.Split(p, "."))
	}
	out := map[string]string{}
	if err := flatten(out, "", root); err != nil {
		return nil, fmt.Errorf("%s: %w", img.Ref, err)
	}
	return out, nil
}

func deletePath(m map[string]any, path []string) {
	if len(path) == 1 {
		delete(m, path[0])
		return
	}
	if sub, ok := m[path[0]].(map[string]any); ok {
		deletePath(sub, path[1:])
	}
}

func flatten(out map[string]string, prefix string, v any) error {
	if m, ok := v.(map[string]any); ok {
		for k, sub := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if err := flatten(out, p, sub); err != nil {
				return err
			}
		}
		return nil
	}
	name := strings.TrimPrefix(strings.TrimPrefix(prefix, "config.contents."), "config.")
	if s, ok := v.(string); ok {
		if s != "" {
			out[name] = s
		}
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	out[name] = string(b)
	return nil
}

// packageName is the name of an apk package constraint: "nginx=1.29.3-r0",
// "nginx>1.2", "nginx~1.29" and "nginx" all name nginx.
func packageName(p string) string {
	if i := strings.IndexAny(p, "=<>~"); i > 0 {
		return p[:i]
	}
	return p
}
