package universe

import (
	"sort"
	"strings"

	"github.com/hic-build/hic/compiler/textdist"
)

// Suggestion is a package an unknown name may have meant, and why.
type Suggestion struct {
	Name   string
	Reason string // "provides cmd:httpd", "same words", "similar name"
}

// Suggest returns up to n installable packages a name that is not in the
// universe may have meant, best first: packages providing cmd:NAME or NAME
// (httpd -> apache2), packages whose name has the same words in another
// order or with another version (kyverno-1.16-cli -> kyverno-cli-1.16),
// packages whose name ends with it (node_exporter ->
// prometheus-node-exporter), and names a few edits away.
//
// Results are memoised per name (vet asks once per spec, and many specs
// share a wrong name); the name keys of the universe are computed once.
func (u *Universe) Suggest(name string, n int) []Suggestion {
	u.suggestMu.Lock()
	if r, ok := u.suggestMemo[name]; ok {
		u.suggestMu.Unlock()
		return r[:min(n, len(r))]
	}
	u.suggestMu.Unlock()
	r := u.suggest(name, suggestMax)
	u.suggestMu.Lock()
	if u.suggestMemo == nil {
		u.suggestMemo = map[string][]Suggestion{}
	}
	u.suggestMemo[name] = r
	u.suggestMu.Unlock()
	return r[:min(n, len(r))]
}

// suggestMax is how many suggestions are computed and memoised.
const suggestMax = 5

// nameKey is what Suggest compares of a package name, computed once.
type nameKey struct {
	norm, words, nonNum string
}

func (u *Universe) nameKeys() []nameKey {
	u.keysOnce.Do(func() {
		u.keys = make([]nameKey, len(u.Packages))
		for i := range u.Packages {
			k := &u.keys[i]
			k.norm = normalise(u.Packages[i].Name)
			k.words, k.nonNum = wordKey(k.norm)
		}
	})
	return u.keys
}

func (u *Universe) suggest(name string, n int) []Suggestion {
	type cand struct {
		Suggestion
		rank, dist int
	}
	best := map[string]cand{}
	add := func(p *Package, rank int, reason string) {
		if p.Removed != "" || p.Name == name {
			return
		}
		c := cand{Suggestion{p.Name, reason}, rank, textdist.Levenshtein(name, p.Name)}
		if old, ok := best[p.Name]; !ok || rank < old.rank {
			best[p.Name] = c
		}
	}
	for _, prov := range []string{"cmd:" + name, name} {
		for _, p := range u.Providers(prov) {
			add(p, 0, "provides "+prov)
		}
	}
	norm := normalise(name)
	words, nonNum := wordKey(norm)
	keys := u.nameKeys()
	for i := range u.Packages {
		p := &u.Packages[i]
		if p.Removed != "" {
			continue
		}
		pn, w, nn := keys[i].norm, keys[i].words, keys[i].nonNum
		switch {
		case strings.EqualFold(p.Name, name):
			add(p, 1, "same name in other letter case")
		case pn == norm:
			add(p, 1, "same name with other separators")
		case w == words:
			add(p, 1, "same words in another order")
		case nn == nonNum && nonNum != "":
			add(p, 2, "same words, another version")
		case strings.HasSuffix(pn, "-"+norm) || strings.HasPrefix(pn, norm+"-"):
			add(p, 3, "name contains "+name)
		default:
			if abs(len(name)-len(p.Name)) > maxEdits(name) {
				continue
			}
			if d := boundedDistance(name, p.Name, maxEdits(name)); d <= maxEdits(name) {
				add(p, 4, "similar name")
			}
		}
	}
	out := make([]cand, 0, len(best))
	for _, c := range best {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if a.dist != b.dist {
			return a.dist < b.dist
		}
		return a.Name < b.Name
	})
	res := make([]Suggestion, 0, min(n, len(out)))
	for i := 0; i < len(out) && i < n; i++ {
		res = append(res, out[i].Suggestion)
	}
	return res
}

func maxEdits(s string) int {
	switch {
	case len(s) <= 4:
		return 1
	case len(s) <= 8:
		return 2
	}
	return 3
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func normalise(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if c == '_' || c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

// boundedDistance is the edit distance of a and b, or max+1 as soon as it
// is known to be above max.
func boundedDistance(a, b string, max int) int {
	var bufA, bufB [64]int
	prev, cur := bufA[:0], bufB[:0]
	if len(b)+1 > len(bufA) {
		prev, cur = make([]int, 0, len(b)+1), make([]int, 0, len(b)+1)
	}
	prev, cur = prev[:len(b)+1], cur[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > max {
			return max + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// wordKey returns the sorted words of a normalised name, and the sorted
// words that are not numbers.
func wordKey(s string) (all, nonNumeric string) {
	ws := strings.Split(s, "-")
	sort.Strings(ws)
	var nn []string
	for _, w := range ws {
		if w != "" && strings.Trim(w, "0123456789") != "" {
			nn = append(nn, w)
		}
	}
	if len(nn) == len(ws) {
		// No version words: "same words, another version" does not apply.
		return strings.Join(ws, " "), ""
	}
	return strings.Join(ws, " "), strings.Join(nn, " ")
}
