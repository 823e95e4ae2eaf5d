package resolve

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"chainguard.dev/apko/pkg/build/types"
)

// UncoveredError says which catalog repositories no mirror covers, and
// which specs use them.
type UncoveredError struct {
	// Repos maps each uncovered repository URL to the specs using it, sorted.
	Repos map[string][]string
	// Covered are the URLs the mirrors do cover, sorted.
	Covered []string
}

func (e *UncoveredError) Error() string {
	urls := make([]string, 0, len(e.Repos))
	for u := range e.Repos {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	var b strings.Builder
	for i, u := range urls {
		if i > 0 {
			b.WriteString("; ")
		}
		specs := e.Repos[u]
		more := ""
		if len(specs) > 3 {
			more = fmt.Sprintf(" and %d more", len(specs)-3)
			specs = specs[:3]
		}
		fmt.Fprintf(&b, "repository %s (used by %s%s)", u, strings.Join(specs, ", "), more)
	}
	covered := "nothing"
	if len(e.Covered) > 0 {
		covered = strings.Join(e.Covered, ", ")
	}
	return fmt.Sprintf("no mirror covers %s; the mirrors cover %s. A build with mirrors never falls back to the network: run `hic mirror` to generate mirrors for this catalog, or pass --mirror URL=DIR for each repository", b.String(), covered)
}

// NoIndexError says which mirror directories lack the index of an
// architecture some specs build for: an empty or misplaced mirror, which
// would otherwise fail each spec later with "nothing provides".
type NoIndexError struct {
	// Files maps each missing <Dir>/<arch>/APKINDEX.tar.gz to the catalog
	// repository it mirrors and the specs needing it, sorted.
	Files map[string][]string
	URLs  map[string]string
}

func (e *NoIndexError) Error() string {
	files := make([]string, 0, len(e.Files))
	for f := range e.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	var b strings.Builder
	for i, f := range files {
		if i > 0 {
			b.WriteString("; ")
		}
		specs := e.Files[f]
		more := ""
		if len(specs) > 3 {
			more = fmt.Sprintf(" and %d more", len(specs)-3)
			specs = specs[:3]
		}
		fmt.Fprintf(&b, "%s (the mirror of %s, needed by %s%s)", f, e.URLs[f], strings.Join(specs, ", "), more)
	}
	return fmt.Sprintf("no package index at %s. A mirror directory holds <arch>/APKINDEX.tar.gz, the packages beside it (<arch>/NAME-VERSION.apk) and keys/*.rsa.pub: "+
		"point --mirror URL=DIR at such a directory, or run `hic mirror` to generate one", b.String())
}

// CheckCovered returns an *UncoveredError if a repository of some
// configuration (by spec ref) has no mirror, and a *NoIndexError if a
// mirror has no index for an architecture some configuration builds for.
func CheckCovered(cfgs map[string]types.ImageConfiguration, mirrors []Mirror) error {
	have := map[string]bool{}
	dirs := map[string]string{}
	for _, m := range mirrors {
		u := strings.TrimSuffix(m.URL, "/")
		have[u] = true
		dirs[u] = m.Dir
	}
	e := &UncoveredError{Repos: map[string][]string{}}
	for u := range have {
		e.Covered = append(e.Covered, u)
	}
	sort.Strings(e.Covered)
	for ref, c := range cfgs {
		for _, r := range append(append([]string(nil), c.Contents.Repositories...), c.Contents.BuildRepositories...) {
			_, u := splitRepo(r)
			u = strings.TrimSuffix(u, "/")
			if !have[u] {
				e.Repos[u] = append(e.Repos[u], ref)
			}
		}
	}
	if len(e.Repos) > 0 {
		for u := range e.Repos {
			sort.Strings(e.Repos[u])
		}
		return e
	}
	return checkIndexes(cfgs, dirs)
}

// checkIndexes returns a *NoIndexError naming the index files the mirrors
// (catalog URL -> directory) lack for the configurations' architectures.
func checkIndexes(cfgs map[string]types.ImageConfiguration, dirs map[string]string) error {
	e := &NoIndexError{Files: map[string][]string{}, URLs: map[string]string{}}
	present := map[string]bool{}
	for ref, c := range cfgs {
		for _, r := range append(append([]string(nil), c.Contents.Repositories...), c.Contents.BuildRepositories...) {
			_, u := splitRepo(r)
			u = strings.TrimSuffix(u, "/")
			dir, ok := dirs[u]
			if !ok {
				continue
			}
			for _, a := range c.Archs {
				f := filepath.Join(dir, a.ToAPK(), "APKINDEX.tar.gz")
				ok, seen := present[f]
				if !seen {
					fi, err := os.Stat(f)
					ok = err == nil && fi.Mode().IsRegular()
					present[f] = ok
				}
				if !ok && !slices.Contains(e.Files[f], ref) {
					e.Files[f] = append(e.Files[f], ref)
					e.URLs[f] = u
				}
			}
		}
	}
	if len(e.Files) == 0 {
		return nil
	}
	for f := range e.Files {
		sort.Strings(e.Files[f])
	}
	return e
}
