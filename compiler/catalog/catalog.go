// Package catalog is hic's front end: it loads a catalog (compiler/load),
// runs the static rules (compiler/check), fills every finding's hint from the
// schema's rule table and sorts the findings, once, with the schema tables
// loaded once; then it selects specs by ref and compiles them
// (compiler/compile), refusing specs with failing findings. Commands call it
// instead of chaining those packages themselves.
//
// It does not build, print or exit: findings and errors are returned.
package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hic-build/hic/compiler/check"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/compiler/vex"
	"github.com/hic-build/hic/schema"
)

// Options configure Load.
type Options struct {
	// Today is the date end-of-life is judged against. Required.
	Today time.Time
	// Dirs limits evaluation to these image folders (nil: the whole
	// catalog); see load.Options.Dirs and ImageDirs.
	Dirs []string
	// CacheDir, when set, keeps each image folder's evaluation there (see
	// load.Options.CacheDir).
	CacheDir string
	// GCPercent, when not 0, is the garbage collector's target while the
	// catalog is evaluated (debug.SetGCPercent), restored after. CUE
	// evaluation allocates many small, short-lived objects: 400 halves vet's
	// CPU time; a build that follows keeps the default and a lower peak RSS.
	GCPercent int
}

// Catalog is a loaded and checked catalog.
type Catalog struct {
	// Root is the catalog directory.
	Root string
	// Loaded is what compiler/load read: files, specs, load findings.
	Loaded *load.Catalog
	// Tables are the schema's rule, distro and variant tables.
	Tables *schema.Tables
	// Universes are the catalog's package universes by distro (none for a
	// distro without a universe file).
	Universes map[string]*universe.Universe
	// Advisories are the catalog's vulnerability advisories (compiler/vex).
	Advisories *vex.Advisories
	// Findings are every finding of load and check, hints filled, sorted.
	Findings []finding.Finding
	// Elapsed is how long Load took.
	Elapsed time.Duration
}

// InputError is Load's error when the catalog itself is bad: it does not
// load, has no files, or its package universe cannot be read. Other errors
// are about the machine or the schema.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Load loads the catalog at root and runs the static rules: the schema's
// checks (with the package universes, read while CUE evaluates) and the
// advisories' (vetted against the whole catalog's pins when Dirs is nil,
// only loaded otherwise).
func Load(ctx context.Context, root string, opts Options) (*Catalog, error) {
	start := time.Now()
	if opts.GCPercent != 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(opts.GCPercent))
	}
	tables, err := schema.LoadTables()
	if err != nil {
		return nil, err
	}
	type universes struct {
		m   map[string]*universe.Universe
		err error
	}
	uch := make(chan universes, 1)
	go func() {
		m, err := universe.ReadCatalog(root, tables.Distros)
		uch <- universes{m, err}
	}()
	lc, err := load.Load(ctx, root, load.Options{Dirs: opts.Dirs, CacheDir: opts.CacheDir})
	us := <-uch
	if err != nil {
		return nil, &InputError{err}
	}
	if us.err != nil {
		return nil, &InputError{fmt.Errorf("package universe: %w", us.err)}
	}
	if len(lc.Files) == 0 {
		return nil, &InputError{fmt.Errorf("catalog %s has no .cue files: set --catalog (or HIC_CATALOG) to the catalog root, the directory holding one folder per image", root)}
	}
	fs := append([]finding.Finding(nil), lc.Findings...)
	fs = append(fs, check.Check(lc.Specs, check.Options{Today: opts.Today, Tables: tables, Universes: us.m})...)
	var adv *vex.Advisories
	var advFindings []finding.Finding
	if opts.Dirs == nil {
		adv, advFindings, err = vex.Vet(ctx, root, lc.Specs, us.m)
	} else {
		adv, advFindings, err = vex.Load(ctx, root)
	}
	if err != nil {
		return nil, err
	}
	fs = append(fs, advFindings...)
	for i := range fs {
		if fs[i].Hint == "" {
			fs[i].Hint = tables.Rules[fs[i].Rule].Hint
		}
	}
	finding.Sort(fs)
	return &Catalog{Root: root, Loaded: lc, Tables: tables, Universes: us.m, Advisories: adv, Findings: fs, Elapsed: time.Since(start)}, nil
}

// Specs are the specs that evaluated cleanly, by ref.
func (c *Catalog) Specs() []*spec.Spec { return c.Loaded.Specs }

// Select returns the specs named by refs (the grammar of spec.Select), or
// all with none given.
func (c *Catalog) Select(refs []string) ([]*spec.Spec, error) {
	if len(refs) == 0 {
		return c.Loaded.Specs, nil
	}
	return spec.Select(c.Loaded.Specs, refs, c.Tables.Distros, c.Tables.Variants)
}

// FailingError is Compile's error when selected specs have failing findings.
type FailingError struct {
	// Findings are the failing findings of the selection (and those of no spec).
	Findings []finding.Finding
}

func (e *FailingError) Error() string { return FailingMessage(len(e.Findings)) }

// FailingMessage is the refusal of n failing findings: "1 failing finding;
// fix it (hic vet) before compiling".
func FailingMessage(n int) string {
	if n == 1 {
		return "1 failing finding; fix it (hic vet) before compiling"
	}
	return fmt.Sprintf("%d failing findings; fix them (hic vet) before compiling", n)
}

// Compile compiles specs, sorted by ref. It refuses with a *FailingError
// when any of them, or the catalog as a whole, has a failing finding.
func (c *Catalog) Compile(specs []*spec.Spec) ([]compile.Image, error) {
	selected := map[string]bool{}
	for _, s := range specs {
		selected[s.Ref] = true
	}
	var bad []finding.Finding
	for _, f := range c.Findings {
		if f.Failing() && (f.Ref == "" || selected[f.Ref]) {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return nil, &FailingError{Findings: bad}
	}
	specs = append([]*spec.Spec(nil), specs...)
	spec.SortByRef(specs)
	return compile.All(specs)
}

// StaticFindings returns the findings of the static checks that did not stop
// a build (warnings and waived ones) by spec ref: what the signed hardening
// report lists beside the post-build findings.
func (c *Catalog) StaticFindings() map[string][]finding.Finding {
	out := map[string][]finding.Finding{}
	for _, f := range c.Findings {
		if f.Ref != "" && !f.Failing() {
			out[f.Ref] = append(out[f.Ref], f)
		}
	}
	return out
}

// RuleIDs are the ids of every rule of the schema's table plus extra (the
// post-build rules of compiler/inspect), sorted table first, without repeats.
func (c *Catalog) RuleIDs(extra ...string) []string {
	ids := c.Tables.RuleIDs()
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for _, id := range extra {
		if !seen[id] {
			ids = append(ids, id)
			seen[id] = true
		}
	}
	return ids
}

// FindRoot returns the catalog root for a path given on the command line:
// the nearest directory at or above it holding cue.mod, else the path itself
// when it is a directory. A file must lie in a catalog: with no cue.mod at or
// above it, its directory (which may be /tmp or a home directory) is no
// catalog to load, and FindRoot says so.
func FindRoot(path string) (root string, err error) {
	root, found, err := ModuleRoot(path)
	if err != nil || found {
		return root, err
	}
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return "", fmt.Errorf("%s: a file outside any catalog (no cue.mod in %s or above): name the catalog's root directory, the one that holds cue.mod and a folder per image", path, filepath.Dir(root))
	}
	return root, nil
}

// ModuleRoot returns the nearest directory at or above path that holds
// cue.mod, and found true; or, when there is none, path made absolute and
// found false.
func ModuleRoot(path string) (root string, found bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", false, fmt.Errorf("%s: no such file or directory", path)
	}
	start := abs
	if !fi.IsDir() {
		start = filepath.Dir(abs)
	}
	for d := start; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, "cue.mod")); err == nil && st.IsDir() {
			return d, true, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return abs, false, nil
}

// ImageDirs returns the image folders that refs name, when every ref names
// an image whose folder (root/IMAGE, the catalog's convention) exists;
// otherwise nil, meaning the whole catalog must be loaded.
func ImageDirs(root string, refs []string) []string {
	if len(refs) == 0 {
		return nil
	}
	var dirs []string
	for _, r := range refs {
		img, _, _ := strings.Cut(r, ":")
		if img == "" || strings.ContainsAny(img, "/\\.") {
			return nil
		}
		if fi, err := os.Stat(filepath.Join(root, img)); err != nil || !fi.IsDir() {
			return nil
		}
		dirs = append(dirs, img)
	}
	return dirs
}

// LoadError is Compiled's error when specs do not evaluate: Findings are
// load's (CUE syntax and schema errors).
type LoadError struct {
	Findings []finding.Finding
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("the catalog does not load: %d errors", len(e.Findings))
}

// Compiled is the front end of the commands that build from specs: it
// finds the catalog root of path (FindRoot), loads and checks the catalog
// (only the image folders refs name, when they name folders), selects refs
// (all with none) and compiles them. Its errors: *InputError for a path,
// catalog or selection that is wrong, *LoadError when specs do not
// evaluate, *FailingError when the selection has failing findings.
// opts.Dirs is set from refs.
func Compiled(ctx context.Context, path string, refs []string, opts Options) (*Catalog, []compile.Image, error) {
	root, err := FindRoot(path)
	if err != nil {
		return nil, nil, &InputError{err}
	}
	opts.Dirs = ImageDirs(root, refs)
	c, err := Load(ctx, root, opts)
	if err != nil {
		return nil, nil, err
	}
	if len(c.Loaded.Findings) > 0 {
		return c, nil, &LoadError{Findings: c.Loaded.Findings}
	}
	specs, err := c.Select(refs)
	if err != nil {
		return c, nil, &InputError{err}
	}
	imgs, err := c.Compile(specs)
	return c, imgs, err
}
