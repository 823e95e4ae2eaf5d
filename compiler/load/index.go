package load

import (
	"path/filepath"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/schema"
)

// index records where each field and list element of the catalog files is
// written, keyed by its path of labels. It is built from the syntax trees, so
// it points at what the contributor wrote, never at a schema default.
type index struct {
	pos        map[string]finding.Position
	imageFile  map[string]string // image name -> file declaring it
	unknownTop []namedPos        // top-level regular fields other than images
	defs       []namedPos        // top-level definitions (#Name)
}

type namedPos struct {
	name string
	pos  finding.Position
}

const sep = "\x1f"

func key(path ...string) string { return strings.Join(path, sep) }

func newIndex() *index {
	return &index{pos: map[string]finding.Position{}, imageFile: map[string]string{}}
}

// addFile indexes one file and returns the image names it declares.
func (x *index) addFile(rel string, f *ast.File) []string {
	x.walkDecls(rel, nil, f.Decls)
	var names []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		n := labelName(fd.Label)
		if n == schema.AdvisoriesPath && filepath.Dir(rel) == schema.AdvisoriesDir {
			continue // advisories are compiler/vex's to read and check
		}
		if n == schema.RepositoriesPath && filepath.Dir(rel) == schema.RepositoriesDir {
			continue // read once by Load and given to every image
		}
		if n != schema.ImagesPath {
			pos := finding.Position{File: rel, Line: fd.Pos().Line(), Column: fd.Pos().Column()}
			id, isIdent := fd.Label.(*ast.Ident)
			switch {
			case isIdent && strings.HasPrefix(id.Name, "#"):
				x.defs = append(x.defs, namedPos{id.Name, pos})
			case n == "":
				// A label that is no name: catalog-layout says so
				// (formFindings).
			case !isIdent || !strings.HasPrefix(id.Name, "_"):
				x.unknownTop = append(x.unknownTop, namedPos{n, pos})
			}
			continue
		}
		if st, ok := fd.Value.(*ast.StructLit); ok {
			for _, e := range st.Elts {
				if g, ok := e.(*ast.Field); ok {
					if n := labelName(g.Label); n != "" {
						names = append(names, n)
						if _, seen := x.imageFile[n]; !seen {
							x.imageFile[n] = rel
						}
					}
				}
			}
		}
	}
	return names
}

func (x *index) walkDecls(rel string, path []string, decls []ast.Decl) {
	for _, d := range decls {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		name := labelName(fd.Label)
		if name == "" {
			continue
		}
		p := append(append([]string(nil), path...), name)
		x.record(rel, p, fd.Pos())
		x.walkValue(rel, p, fd.Value)
	}
}

func (x *index) walkValue(rel string, path []string, v ast.Expr) {
	switch v := v.(type) {
	case *ast.StructLit:
		x.walkDecls(rel, path, v.Elts)
	case *ast.ListLit:
		for i, e := range v.Elts {
			p := append(append([]string(nil), path...), strconv.Itoa(i))
			x.record(rel, p, e.Pos())
			x.walkValue(rel, p, e)
		}
	case *ast.BinaryExpr: // a: x & {...}
		x.walkValue(rel, path, v.X)
		x.walkValue(rel, path, v.Y)
	}
}

func (x *index) record(rel string, path []string, p token.Pos) {
	k := key(path...)
	if _, seen := x.pos[k]; seen || !p.IsValid() {
		return
	}
	x.pos[k] = finding.Position{File: rel, Line: p.Line(), Column: p.Column()}
}

// lookup returns the position of the longest written prefix of path. CUE
// error paths quote labels that are not identifiers ("1.29"); the index
// holds them unquoted.
func (x *index) lookup(path []string) (finding.Position, bool) {
	path = append([]string(nil), path...)
	for i, p := range path {
		if u, err := strconv.Unquote(p); err == nil {
			path[i] = u
		}
	}
	for n := len(path); n > 0; n-- {
		if p, ok := x.pos[key(path[:n]...)]; ok {
			return p, true
		}
	}
	return finding.Position{}, false
}

func (x *index) exact(path ...string) (finding.Position, bool) {
	p, ok := x.pos[key(path...)]
	return p, ok
}

// count returns how many list elements path has in the source.
func (x *index) count(path ...string) int {
	n := 0
	for {
		if _, ok := x.pos[key(append(path, strconv.Itoa(n))...)]; !ok {
			return n
		}
		n++
	}
}

func labelName(l ast.Label) string {
	switch l := l.(type) {
	case *ast.Ident:
		return l.Name
	case *ast.BasicLit:
		if l.Kind == token.STRING {
			if s, err := strconv.Unquote(l.Value); err == nil {
				return s
			}
		}
	}
	return ""
}

// locator maps spec fields back to what the contributor wrote in the image.
type locator struct{ idx *index }

var _ spec.Locator = (*locator)(nil)

// annotationFields maps the derived OCI annotations to the image fields they come from.
var annotationFields = map[string]string{
	"org.opencontainers.image.title":       "title",
	"org.opencontainers.image.description": "description",
	"org.opencontainers.image.licenses":    "license",
	"org.opencontainers.image.url":         "homepage",
	"org.opencontainers.image.source":      "source",
}

func (l *locator) Locate(s *spec.Spec, field string) (finding.Position, bool) {
	img := []string{schema.ImagesPath, s.Image}
	st := []string{schema.ImagesPath, s.Image, schema.StreamsField, s.Stream}
	at := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }
	head, rest, _ := strings.Cut(field, ".")
	var restPath []string
	if rest != "" {
		restPath = strings.Split(rest, ".")
	}
	var cands [][]string
	switch head {
	case "", "ref", "image":
		cands = [][]string{img}
	case "stream":
		cands = [][]string{st}
	case "package":
		cands = [][]string{at(st, "package"), at(img, "package")}
	case "version", "mainPackage":
		cands = [][]string{at(st, "versions", s.Distro), at(st, "version"), at(st, "package"), at(img, "package")}
	case "distro", "repositories", "keyrings", "policy":
		cands = [][]string{at(st, "distros"), at(img, "distros")}
	case "variant":
		cands = [][]string{at(img, "variants")}
	case "tags":
		cands = [][]string{at(st, "aliases"), at(st, "latest"), st}
	case "dates":
		switch rest {
		case "released":
			cands = [][]string{at(st, "released")}
		case "eol":
			cands = [][]string{at(st, "eol")}
		}
		cands = append(cands, st)
	case "exceptions":
		n := l.idx.count(at(img, "exceptions")...)
		if len(restPath) > 0 {
			if i, err := strconv.Atoi(restPath[0]); err == nil {
				if i < n {
					cands = [][]string{at(img, append([]string{"exceptions"}, restPath...)...)}
				} else {
					sub := append([]string{"exceptions", strconv.Itoa(i - n)}, restPath[1:]...)
					cands = [][]string{at(st, sub...)}
				}
			}
		}
		cands = append(cands, at(img, "exceptions"), at(st, "exceptions"))
	case "packages":
		cands = [][]string{at(img, "packages"), at(img, "package")}
	case "imagePackages": // the image's own packages, by their index there
		cands = [][]string{at(img, append([]string{"packages"}, restPath...)...), at(img, "packages")}
	case "runAs":
		cands = [][]string{at(img, "runAsRoot"), at(img, "user")}
	case "meta":
		cands = [][]string{at(img, restPath...)}
	case "annotations":
		if f, ok := annotationFields[rest]; ok {
			cands = [][]string{at(img, f)}
		}
		cands = append(cands, at(img, "title"))
	default:
		cands = [][]string{at(img, append([]string{head}, restPath...)...)}
	}
	for _, c := range cands {
		if p, ok := l.idx.exact(c...); ok {
			return p, true
		}
	}
	return finding.Position{}, false
}
