// Package bump moves the version pins of catalog streams to the newest
// version their distro's package universe (compiler/universe) has within
// the stream, and writes the new pins into the catalog source where they
// are written, formatted. It owns the choice of the newest in-stream
// version and the edit of the source; it does not refresh universes
// (hic index import) or judge the result (hic vet).
package bump

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"cuelang.org/go/cue/format"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/universe"
)

// Change is one pin to move: the value written at Pos, shared by Refs.
type Change struct {
	Refs    []string
	Package string
	From    string
	To      string
	// Pos is where the pin is written (the field's label), relative to
	// the catalog root.
	Pos finding.Position
}

// Skip is a stream that could not be bumped, and why.
type Skip struct {
	Refs   []string
	Reason string
}

// Plan returns the pins of specs that the universes have a newer version
// for, one Change per written pin (the runtime and dev variants of a
// stream share one), and the streams it cannot bump. A spec whose distro
// has no universe is skipped.
func Plan(specs []*spec.Spec, universes map[string]*universe.Universe) ([]Change, []Skip) {
	type group struct {
		pos     finding.Position
		refs    []string
		pkg     string
		from    string
		targets map[string][]string // newest -> distros
	}
	groups := map[string]*group{}
	var order []string
	var skips []Skip
	for _, s := range specs {
		u := universes[s.Distro]
		if u == nil {
			skips = append(skips, Skip{[]string{s.Ref}, "no universe for " + s.Distro})
			continue
		}
		name, from, ok := strings.Cut(s.MainPackage, "=")
		if !ok {
			skips = append(skips, Skip{[]string{s.Ref}, "main package is not pinned"})
			continue
		}
		p := u.Lookup(name)
		if p == nil || p.Removed != "" {
			skips = append(skips, Skip{[]string{s.Ref}, fmt.Sprintf("%s is not installable from the %s universe (hic vet says why)", name, s.Distro)})
			continue
		}
		to := NewestInStream(p, s.Stream, from)
		if to == "" {
			skips = append(skips, Skip{[]string{s.Ref}, fmt.Sprintf("the %s universe has no %s version in stream %s (newest: %s)", s.Distro, name, s.Stream, p.Newest())})
			continue
		}
		pos := s.Pos("version")
		if pos.Line == 0 {
			skips = append(skips, Skip{[]string{s.Ref}, "cannot find where the version is written"})
			continue
		}
		k := pos.String()
		g, ok := groups[k]
		if !ok {
			g = &group{pos: pos, pkg: name, from: from, targets: map[string][]string{}}
			groups[k] = g
			order = append(order, k)
		}
		g.refs = append(g.refs, s.Ref)
		if !contains(g.targets[to], s.Distro) {
			g.targets[to] = append(g.targets[to], s.Distro)
		}
	}
	var changes []Change
	for _, k := range order {
		g := groups[k]
		sort.Strings(g.refs)
		if len(g.targets) > 1 {
			var parts []string
			for v, ds := range g.targets {
				sort.Strings(ds)
				parts = append(parts, strings.Join(ds, ", ")+" has "+v)
			}
			sort.Strings(parts)
			skips = append(skips, Skip{g.refs, fmt.Sprintf("one pin at %s serves distros with different newest versions (%s): pin each distro in versions: {...}", g.pos, strings.Join(parts, "; "))})
			continue
		}
		for to := range g.targets {
			switch {
			case to == g.from:
			case universe.SortVersions([]string{to, g.from})[0] == g.from && !sameUpstream(g.from, to):
				// The pin is newer than anything the universe has (a pin to
				// a version never built is moved; this one may just be new).
				skips = append(skips, Skip{g.refs, fmt.Sprintf("%s %s is newer than the universe's newest in the stream, %s: refresh the universe (hic index import)", g.pkg, g.from, to)})
			default:
				changes = append(changes, Change{Refs: g.refs, Package: g.pkg, From: g.from, To: to, Pos: g.pos})
			}
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Refs[0] < changes[j].Refs[0] })
	return changes, skips
}

var numericStream = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)

// NewestInStream is the newest version of p that belongs to stream, whose
// pin is now pin. For a numeric stream ("1.31", "8") whose pin starts with
// it, a version belongs when its upstream version is the stream or starts
// with it and a dot ("1.31.4-r0"). Otherwise every version belongs when the
// stream is not numeric ("mainline") or is a word of the package name
// (postgresql-18 for stream "18"); else none does.
func NewestInStream(p *universe.Package, stream, pin string) string {
	in := func(v string) bool {
		up, _, _ := strings.Cut(v, "-r")
		return up == stream || strings.HasPrefix(up, stream+".") || strings.HasPrefix(up, stream+"_")
	}
	byPrefix := numericStream.MatchString(stream) && in(pin)
	if !byPrefix && numericStream.MatchString(stream) && !contains(strings.Split(p.Name, "-"), stream) {
		return ""
	}
	for _, v := range p.Versions {
		if !byPrefix || in(v) {
			return v
		}
	}
	return ""
}

// sameUpstream reports whether two versions differ only in their epoch (-rN).
func sameUpstream(a, b string) bool {
	ua, _, _ := strings.Cut(a, "-r")
	ub, _, _ := strings.Cut(b, "-r")
	return ua == ub
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Apply writes changes into the catalog at root with write: each pin's
// string literal is replaced where it is written, and each changed file is
// formatted. A pin not written as the plain string it expects (a value
// computed in CUE) is skipped and returned. It returns the changes applied
// and the files written, relative to root.
func Apply(root string, changes []Change, write func(path string, data []byte) error) (applied []Change, skipped []Skip, files []string, err error) {
	byFile := map[string][]Change{}
	for _, c := range changes {
		byFile[c.Pos.File] = append(byFile[c.Pos.File], c)
	}
	names := make([]string, 0, len(byFile))
	for f := range byFile {
		names = append(names, f)
	}
	sort.Strings(names)
	out := map[string][]byte{}
	for _, f := range names {
		path := filepath.Join(root, f)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, nil, err
		}
		cs := byFile[f]
		// From the end of the file, so earlier offsets stay valid.
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].Pos.Line != cs[j].Pos.Line {
				return cs[i].Pos.Line > cs[j].Pos.Line
			}
			return cs[i].Pos.Column > cs[j].Pos.Column
		})
		n := 0
		for _, c := range cs {
			edited, err := replaceAt(src, c)
			if err != nil {
				skipped = append(skipped, Skip{c.Refs, fmt.Sprintf("%s: %v", c.Pos, err)})
				continue
			}
			src = edited
			applied = append(applied, c)
			n++
		}
		if n == 0 {
			continue
		}
		formatted, err := format.Source(src)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: format after the edit: %w", f, err)
		}
		out[f] = formatted
	}
	for _, f := range names {
		if b, ok := out[f]; ok {
			if err := write(filepath.Join(root, f), b); err != nil {
				return applied, skipped, files, err
			}
			files = append(files, f)
		}
	}
	sort.Slice(applied, func(i, j int) bool { return applied[i].Refs[0] < applied[j].Refs[0] })
	return applied, skipped, files, nil
}

// replaceAt replaces the string literal after the field label at c.Pos
// ("version: \"1.2-r0\"", "\"alpine-3.23\": \"1.2-r0\"").
func replaceAt(src []byte, c Change) ([]byte, error) {
	off := 0
	for line := 1; line < c.Pos.Line; line++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return nil, fmt.Errorf("line %d is past the end of the file", c.Pos.Line)
		}
		off += i + 1
	}
	off += c.Pos.Column - 1
	if off < 0 || off > len(src) {
		return nil, fmt.Errorf("column %d is past the end of the line", c.Pos.Column)
	}
	rest := src[off:]
	// Skip the label (quoted or not) and the colon.
	i := 0
	if i < len(rest) && rest[i] == '"' {
		j := bytes.IndexByte(rest[1:], '"')
		if j < 0 {
			return nil, fmt.Errorf("unterminated label")
		}
		i = j + 2
	}
	colon := bytes.IndexByte(rest[i:], ':')
	if colon < 0 {
		return nil, fmt.Errorf("no field at the pin's position")
	}
	i += colon + 1
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	want := `"` + c.From + `"`
	if !bytes.HasPrefix(rest[i:], []byte(want)) {
		end := min(i+len(want)+8, len(rest))
		return nil, fmt.Errorf("expected the pin %s here, found %q: the version is not written as a plain string", want, rest[i:end])
	}
	at := off + i
	var b bytes.Buffer
	b.Write(src[:at])
	b.WriteString(`"` + c.To + `"`)
	b.Write(src[at+len(want):])
	return b.Bytes(), nil
}
