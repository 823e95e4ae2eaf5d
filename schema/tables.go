package schema

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"
)

// Rule is one hardening rule of the table in rules.cue.
type Rule struct {
	ID        string `json:"id"`
	Stage     string `json:"stage"`
	Title     string `json:"title"`
	Rationale string `json:"rationale"`
	Hint      string `json:"hint"`
	Waivable  bool   `json:"waivable"`
}

// Tables are the schema's data tables as Go values: the rules and the names of
// distros and variants. Load them once and pass them down.
type Tables struct {
	Rules    map[string]Rule
	Distros  []string // sorted
	Variants []string // sorted
}

// RuleIDs returns the rule ids in sorted order.
func (t *Tables) RuleIDs() []string {
	ids := make([]string, 0, len(t.Rules))
	for id := range t.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// LoadTables evaluates the embedded schema and reads its tables.
func LoadTables() (*Tables, error) {
	v, err := Evaluate(cuecontext.New())
	if err != nil {
		return nil, err
	}
	t := &Tables{Rules: map[string]Rule{}}
	rules := v.LookupPath(cue.ParsePath(RulesPath))
	iter, err := rules.Fields()
	if err != nil {
		return nil, fmt.Errorf("schema: %s: %w", RulesPath, err)
	}
	for iter.Next() {
		var r Rule
		if err := iter.Value().Decode(&r); err != nil {
			return nil, fmt.Errorf("schema: rule %s: %w", iter.Selector(), err)
		}
		r.ID = iter.Selector().Unquoted()
		t.Rules[r.ID] = r
	}
	for _, tab := range []struct {
		path string
		out  *[]string
	}{{DistrosPath, &t.Distros}, {VariantsPath, &t.Variants}} {
		iter, err := v.LookupPath(cue.ParsePath(tab.path)).Fields()
		if err != nil {
			return nil, fmt.Errorf("schema: %s: %w", tab.path, err)
		}
		for iter.Next() {
			*tab.out = append(*tab.out, iter.Selector().Unquoted())
		}
		sort.Strings(*tab.out)
	}
	return t, nil
}

// Evaluate builds the schema alone in ctx.
func Evaluate(ctx *cue.Context) (cue.Value, error) {
	files, err := Files()
	if err != nil {
		return cue.Value{}, err
	}
	overlay := map[string]load.Source{}
	var args []string
	for name, src := range files {
		p := Dir + "/" + FilePrefix + name
		overlay[p] = load.FromBytes(src)
		args = append(args, p)
	}
	sort.Strings(args)
	insts := load.Instances(args, &load.Config{Dir: Dir, Overlay: overlay, Package: Package})
	if len(insts) != 1 || insts[0].Err != nil {
		return cue.Value{}, fmt.Errorf("schema: load: %v", insts[0].Err)
	}
	v := ctx.BuildInstance(insts[0])
	if err := v.Err(); err != nil {
		return cue.Value{}, fmt.Errorf("schema: %w", err)
	}
	return v, nil
}

// Dir and FilePrefix name the schema files as Evaluate loads them, so
// positions in them are told apart from catalog files: an error at
// /hic-schema/hic.schema.image.cue:12:3 is in schema/image.cue. Dir is a
// directory of Evaluate's overlay only; a catalog file is never in it, and
// a catalog file whose name starts with FilePrefix is a catalog file like
// any other (SourceFile tells the two apart).
const (
	Dir        = "/hic-schema"
	FilePrefix = "hic.schema."
)

// SourceFile says whether filename, a position's file, is one of the
// schema's files as Evaluate loads them, and if so names it as it is in
// the repository: "schema/image.cue".
func SourceFile(filename string) (string, bool) {
	dir, base := path.Split(filepath.ToSlash(filename))
	if dir != Dir+"/" || !strings.HasPrefix(base, FilePrefix) {
		return "", false
	}
	return "schema/" + strings.TrimPrefix(base, FilePrefix), true
}

// Files returns the schema's CUE sources by file name.
func Files() (map[string][]byte, error) {
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile(FS, e.Name())
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}
