package resolve

import (
	"fmt"
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

// CheckCovered returns an *UncoveredError if a repository of some
// configuration (by spec ref) has no mirror.
func CheckCovered(cfgs map[string]types.ImageConfiguration, mirrors []Mirror) error {
	have := map[string]bool{}
	for _, m := range mirrors {
		have[strings.TrimSuffix(m.URL, "/")] = true
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
	if len(e.Repos) == 0 {
		return nil
	}
	for u := range e.Repos {
		sort.Strings(e.Repos[u])
	}
	return e
}
