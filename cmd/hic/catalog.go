package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/compiler/vex"
	"github.com/hic-build/hic/schema"
)

// loaded is a catalog as the commands see it: specs, schema tables and every
// finding of load and check.
type loaded struct {
	*catalog.Catalog
	catalog *load.Catalog
	tables  *schema.Tables
	// universes are the catalog's package universes by distro (none for a
	// distro without a universe file).
	universes map[string]*universe.Universe
	findings  []finding.Finding
	// advisories are the catalog's vulnerability advisories (compiler/vex).
	advisories *vex.Advisories
	elapsed    time.Duration
}

// loadAndCheck loads the catalog at root and runs the static rules.
// today is the date end-of-life is judged against.
func (ro *rootOptions) loadAndCheck(ctx context.Context, root string, today time.Time) (*loaded, error) {
	return ro.loadAndCheckDirs(ctx, root, today, nil)
}

// loadAndCheckDirs is loadAndCheck limited to some image folders (nil: all):
// compiler/catalog's Load, with GOGC and the user's cache directory as the
// environment sets them. A catalog that does not load is a usage error.
func (ro *rootOptions) loadAndCheckDirs(ctx context.Context, root string, today time.Time, dirs []string) (*loaded, error) {
	opts, err := ro.catalogOptions(today)
	if err != nil {
		return nil, err
	}
	opts.Dirs = dirs
	c, err := catalog.Load(ctx, root, opts)
	var ie *catalog.InputError
	if errors.As(err, &ie) {
		return nil, usageError("%v", err)
	}
	if err != nil {
		return nil, err
	}
	return &loaded{Catalog: c, catalog: c.Loaded, tables: c.Tables, universes: c.Universes, findings: c.Findings, advisories: c.Advisories, elapsed: c.Elapsed}, nil
}

// catalogOptions are compiler/catalog's options with GOGC and the user's
// cache directory as the environment sets them.
func (ro *rootOptions) catalogOptions(today time.Time) (catalog.Options, error) {
	cache, err := ro.evalCacheDir()
	if err != nil {
		return catalog.Options{}, err
	}
	opts := catalog.Options{Today: today, CacheDir: cache}
	if ro.getenv("GOGC") == "" { // GOGC in the environment wins
		opts.GCPercent = 400
	}
	return opts, nil
}

// catalogError turns the front end's errors (catalog.Compiled) into the
// CLI's: findings printed as vet prints them, and the exit code.
func catalogError(cmd *cobra.Command, root *rootOptions, err error) error {
	var (
		ie *catalog.InputError
		le *catalog.LoadError
		fe *catalog.FailingError
	)
	switch {
	case errors.As(err, &ie):
		return usageError("%v", err)
	case errors.As(err, &le):
		printFindings(cmd, root, le.Findings)
		return usageError("the catalog does not load; fix the errors above (hic vet shows them too)")
	case errors.As(err, &fe):
		printFindings(cmd, root, fe.Findings)
		return &exitError{code: exitFindings, err: err}
	}
	return err
}

// printFindings prints failing findings to stderr as hic vet lists them.
func printFindings(cmd *cobra.Command, root *rootOptions, fs []finding.Finding) {
	r, _ := catalog.FindRoot(root.catalog)
	shown := make([]finding.Finding, 0, len(fs))
	for _, f := range fs {
		f.Pos = displayPos(r, f.Pos)
		shown = append(shown, f)
	}
	writeFindings(cmd.ErrOrStderr(), shown)
}

// selectSpecs returns the specs named by refs, or all with none given.
func (l *loaded) selectSpecs(refs []string) ([]*spec.Spec, error) {
	if len(refs) == 0 {
		return l.catalog.Specs, nil
	}
	specs, err := spec.Select(l.catalog.Specs, refs, l.tables.Distros, l.tables.Variants)
	if err == nil {
		return specs, nil
	}
	// A ref that names no spec may be an image tag (nginx:latest,
	// nginx:1.31-dev), as verify and the registries take them.
	var out []*spec.Spec
	seen := map[*spec.Spec]bool{}
	for _, r := range refs {
		ss, serr := spec.Select(l.catalog.Specs, []string{r}, l.tables.Distros, l.tables.Variants)
		if serr != nil {
			if s := l.specOfTag(r); s != nil {
				ss, serr = []*spec.Spec{s}, nil
			}
		}
		if serr != nil {
			return nil, usageError("%v", err)
		}
		for _, s := range ss {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out, nil
}

// specOfTag returns the spec whose compiled image has the tag ref
// ("repository:tag"), or nil.
func (l *loaded) specOfTag(ref string) *spec.Spec {
	repo, tag, ok := strings.Cut(ref, ":")
	if !ok || tag == "" {
		return nil
	}
	for _, s := range l.catalog.Specs {
		if s.Repository == repo && slices.Contains(s.Tags, tag) {
			return s
		}
	}
	return nil
}

// images counts the distinct images among specs.
func images(specs []*spec.Spec) int {
	seen := map[string]bool{}
	for _, s := range specs {
		seen[s.Image] = true
	}
	return len(seen)
}

// displayPos rewrites a catalog-relative position to be relative to the
// working directory, so editors and terminals can open it.
func displayPos(root string, p finding.Position) finding.Position {
	if !p.IsValid() || strings.HasPrefix(p.File, "schema/") || filepath.IsAbs(p.File) {
		return p
	}
	abs := filepath.Join(root, p.File)
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(r, "../..") {
			p.File = r
			return p
		}
	}
	p.File = abs
	return p
}

// parseToday reads --today (YYYY-MM-DD), defaulting to the wall clock.
func parseToday(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, usageError("--today %q: want a date like 2026-11-27", s)
	}
	return t, nil
}

// relToWD shows an absolute path relative to the working directory when it lies below it.
func relToWD(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}

// hicCacheDir is hic's own cache directory, USER_CACHE_DIR/hic (e.g.
// ~/.cache/hic): the one place that decides where it is. One inside the
// catalog (--catalog) is a usage error: what hic keeps there (the key of
// its memos, each image folder's evaluation) would become part of the
// catalog.
func (ro *rootOptions) hicCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	d = filepath.Join(d, "hic")
	if r, err := catalog.FindRoot(ro.catalog); err == nil {
		if in, _ := fsutil.Within(d, r); in {
			return "", usageError("hic's cache directory %s is inside the catalog %s: what hic keeps there would become part of the catalog; set XDG_CACHE_HOME (or HOME) to a directory outside it", d, r)
		}
	}
	return d, nil
}

// checksMemoKey is the key of the layouts' memos of checks, kept in
// hicCacheDir (see store.MemoKey).
func (ro *rootOptions) checksMemoKey() ([]byte, error) {
	d, err := ro.hicCacheDir()
	if err != nil {
		return nil, err
	}
	return store.MemoKey(d)
}

// evalCacheDir is where the loader keeps each image folder's evaluation
// (hicCacheDir/eval, e.g. ~/.cache/hic/eval), or "" when the environment
// names no cache directory.
func (ro *rootOptions) evalCacheDir() (string, error) {
	d, err := ro.hicCacheDir()
	var ee *exitError
	if errors.As(err, &ee) {
		return "", err
	}
	if err != nil {
		return "", nil
	}
	return filepath.Join(d, "eval"), nil
}
