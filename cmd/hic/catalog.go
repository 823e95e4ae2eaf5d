package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hic-build/hic/compiler/check"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/compiler/vex"
	"github.com/hic-build/hic/schema"
)

// loaded is a catalog as the commands see it: specs, schema tables and every
// finding of load and check.
type loaded struct {
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
func loadAndCheck(ctx context.Context, root string, today time.Time) (*loaded, error) {
	return loadAndCheckDirs(ctx, root, today, nil)
}

// loadAndCheckDirs is loadAndCheck limited to some image folders (nil: all).
func loadAndCheckDirs(ctx context.Context, root string, today time.Time, dirs []string) (*loaded, error) {
	start := time.Now()
	// CUE evaluation allocates many small, short-lived objects: collecting
	// less often while loading halves vet's CPU time. Only while loading, so
	// a build that follows keeps the default and a lower peak RSS. GOGC in
	// the environment still wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	tables, err := schema.LoadTables()
	if err != nil {
		return nil, err
	}
	// The package universes are read while CUE evaluates the catalog.
	type universes struct {
		m   map[string]*universe.Universe
		err error
	}
	uch := make(chan universes, 1)
	go func() {
		m, err := universe.ReadCatalog(root, tables.Distros)
		uch <- universes{m, err}
	}()
	cat, err := load.Load(ctx, root, load.Options{Dirs: dirs, CacheDir: evalCacheDir()})
	us := <-uch
	if err != nil {
		return nil, usageError("%v", err)
	}
	if us.err != nil {
		return nil, usageError("package universe: %v", us.err)
	}
	if len(cat.Files) == 0 {
		return nil, usageError("catalog %s has no .cue files: set --catalog (or HIC_CATALOG) to the catalog root, the directory holding one folder per image", root)
	}
	fs := append([]finding.Finding(nil), cat.Findings...)
	fs = append(fs, check.Check(cat.Specs, check.Options{Today: today, Tables: tables, Universes: us.m})...)
	// Advisories are vetted against the whole catalog's pins; a command
	// about some images only loads them (for the images' VEX documents).
	var adv *vex.Advisories
	var advFindings []finding.Finding
	if dirs == nil {
		adv, advFindings, err = vex.Vet(ctx, root, cat.Specs)
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
	return &loaded{catalog: cat, tables: tables, universes: us.m, findings: fs, advisories: adv, elapsed: time.Since(start)}, nil
}

// selectSpecs returns the specs named by refs, or all with none given.
func (l *loaded) selectSpecs(refs []string) ([]*spec.Spec, error) {
	if len(refs) == 0 {
		return l.catalog.Specs, nil
	}
	specs, err := spec.Select(l.catalog.Specs, refs, l.tables.Distros, l.tables.Variants)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return specs, nil
}

// images counts the distinct images among specs.
func images(specs []*spec.Spec) int {
	seen := map[string]bool{}
	for _, s := range specs {
		seen[s.Image] = true
	}
	return len(seen)
}

// findCatalogRoot returns the catalog root for a path given on the command
// line: the nearest directory at or above it holding cue.mod, else the path
// itself (or its directory, for a file).
func findCatalogRoot(path string) (root string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s: no such file or directory", path)
	}
	start := abs
	if !fi.IsDir() {
		start = filepath.Dir(abs)
	}
	for d := start; ; d = filepath.Dir(d) {
		if st, err := os.Stat(filepath.Join(d, "cue.mod")); err == nil && st.IsDir() {
			return d, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return start, nil
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

// imageDirs returns the image folders that refs name, when every ref names
// an image whose folder (catalog/IMAGE, the catalog's convention) exists;
// otherwise nil, meaning the whole catalog must be loaded.
func imageDirs(root string, refs []string) []string {
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

// evalCacheDir is where the loader keeps each image folder's evaluation
// (USER_CACHE_DIR/hic/eval, e.g. ~/.cache/hic/eval), or "" when the
// environment names no cache directory.
func evalCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "hic", "eval")
}
