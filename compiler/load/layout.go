package load

import (
	"fmt"
	"iter"
	"path"
	"path/filepath"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/schema"
)

// RuleLayout is the rule of the catalog's layout: an image is declared in
// catalog/NAME/NAME.cue and nowhere else, and that file declares it alone.
const RuleLayout = "catalog-layout"

// specialDirs are the catalog's top-level folders that are no image's, by
// what they hold. A CUE file in one of them must not declare an image:
// everything else is read from them by its own reader (compiler/vex for
// advisories, Load for repositories, compiler/universe for the universes,
// which are text files).
var specialDirs = map[string]string{
	schema.AdvisoriesDir:   "the catalog's advisories",
	schema.RepositoriesDir: "the catalog's extra repositories",
	schema.UniverseDir:     "the package universes",
}

// layoutFindings reports where the catalog file (relative to the root)
// breaks the layout: an image declared anywhere but in catalog/NAME/NAME.cue,
// a second image in an image's file, a file of an image folder that declares
// no image (the folder's image is gone, or the file is a helper no reviewer
// reads as the image), and any file at the root (CUE evaluates it with every
// folder below it) or in a subfolder.
//
// exists says whether the catalog holds a CUE file (slash-separated,
// relative to the root): a fix never says to rename a file onto one.
func layoutFindings(file string, f *ast.File, exists func(string) bool) []finding.Finding {
	rel := filepath.ToSlash(file)
	parts := strings.Split(rel, "/")
	top := parts[0]
	images := declaredImages(file, f)

	out := formFindings(file, f)
	add := func(pos finding.Position, hint, format string, args ...any) {
		out = append(out, finding.Finding{
			Rule: RuleLayout, Severity: finding.Error, Pos: pos, Hint: hint,
			Message: fmt.Sprintf(format, args...),
		})
	}
	moveTo := func(name string) string {
		return fmt.Sprintf("move it to catalog/%s/%s.cue, the file of image %s", name, name, name)
	}
	misplaced := func(where string) {
		for _, im := range images {
			add(im.pos, moveTo(im.name), "image %s is declared in %s, %s: an image is declared only in catalog/%s/%s.cue", im.name, rel, where, im.name, im.name)
		}
	}
	switch {
	case len(parts) == 1:
		if len(images) > 0 {
			misplaced("at the catalog root")
			return out
		}
		add(filePos(file, f), "move what it says into the image files that use it, and remove it",
			"%s is at the catalog root, which holds image folders only: CUE evaluates a root file with every image", rel)
	case specialDirs[top] != "":
		misplaced(fmt.Sprintf("in %s/, which holds %s", top, specialDirs[top]))
	case len(parts) > 2:
		dir := path.Dir(rel)
		if len(images) > 0 {
			misplaced(fmt.Sprintf("in the subfolder %s/", dir))
			return out
		}
		add(filePos(file, f), "remove it: an image's folder is catalog/NAME/, with the one CUE file NAME.cue",
			"%s is in the subfolder %s/, which is no image's folder: image folders hold no subfolders of CUE files", rel, dir)
	default:
		own := top + ".cue"
		if len(images) == 0 {
			if parts[1] == own {
				add(filePos(file, f), fmt.Sprintf("declare the image here, `images: %s: {...}`, or remove the folder catalog/%s/ to remove the image", top, top),
					"%s declares no image: the folder %s/ is image %s's, and without `images: %s: {...}` the image has no specs", rel, top, top, top)
			} else {
				if exists(top + "/" + own) {
					add(filePos(file, f), fmt.Sprintf("move what it says into catalog/%s/%s and remove it", top, own),
						"%s declares no image: the folder %s/ is image %s's, and an image's folder holds one CUE file, %s, which declares the image", rel, top, top, own)
				} else {
					add(filePos(file, f), fmt.Sprintf("declare the image in catalog/%s/%s, `images: %s: {...}` (rename the file if it is the image's), or remove the folder catalog/%s/", top, own, top, top),
						"%s declares no image: the folder %s/ is image %s's, and an image's folder holds one CUE file, %s, which declares the image (there is none)", rel, top, top, own)
				}
			}
			return out
		}
		declaresOwn := false
		for _, im := range images {
			declaresOwn = declaresOwn || im.name == top
		}
		for _, im := range images {
			switch {
			case im.name == top && parts[1] == own:
				// The image's own file.
			case im.name == top:
				hint := fmt.Sprintf("move it to catalog/%s/%s (rename the file)", top, own)
				if exists(top + "/" + own) {
					hint = fmt.Sprintf("move its contents into catalog/%s/%s, which exists (renaming the file would replace it), and remove %s", top, own, rel)
				}
				add(im.pos, hint,
					"image %s is declared in %s: an image is declared only in its folder's file catalog/%s/%s", im.name, rel, top, own)
			case !declaresOwn && len(images) == 1 && parts[1] == own:
				add(im.pos, fmt.Sprintf("name the image %s, as its folder is, or move it to catalog/%s/%s.cue", top, im.name, im.name),
					"image %s is declared in %s, the file of image %s: an image is declared only in catalog/%s/%s.cue", im.name, rel, top, im.name, im.name)
			case declaresOwn:
				add(im.pos, moveTo(im.name),
					"image %s is declared in %s beside image %s: an image's file declares that image alone, and %s's is catalog/%s/%s.cue", im.name, rel, top, im.name, im.name, im.name)
			default:
				add(im.pos, moveTo(im.name),
					"image %s is declared in %s: an image is declared only in catalog/%s/%s.cue", im.name, rel, im.name, im.name)
			}
		}
	}
	return out
}

// literalHint is the fix of a declaration hic cannot read.
const literalHint = "write each image out as `images: NAME: {...}` in catalog/NAME/NAME.cue; a helper it shares goes in a hidden field (_name) the image names: `images: NAME: _base & {...}`"

// formFindings reports every declaration of a file through which an image
// could be declared, or every image changed, in a form hic does not read:
// images are read from the syntax, `images: NAME: {...}` with NAME written
// out (declaredImages), so an image declared through an embedding, a
// comprehension, a dynamic or pattern label or an expression (`&`, a
// reference) would be dropped without a word, and a pattern
// (`images: [string]: ...`) changes images no image's file shows.
func formFindings(rel string, f *ast.File) []finding.Finding {
	var out []finding.Finding
	add := func(p token.Pos, format string, args ...any) {
		out = append(out, finding.Finding{
			Rule: RuleLayout, Severity: finding.Error, Hint: literalHint,
			Pos:     finding.Position{File: rel, Line: p.Line(), Column: p.Column()},
			Message: fmt.Sprintf(format, args...),
		})
	}
	const lost = "hic reads a file's images only from `images: NAME: {...}` written out, so an image declared through it would be dropped without a word"
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.EmbedDecl:
			add(d.Pos(), "%s embeds a value at its top level: %s", rel, lost)
		case *ast.Comprehension:
			add(d.Pos(), "%s has a comprehension (if or for) at its top level: %s", rel, lost)
		case *ast.Field:
			if form := labelForm(d.Label); form != "" {
				add(d.Label.Pos(), "%s has a top-level field with %s: %s", rel, form, lost)
				continue
			}
			if labelName(d.Label) != schema.ImagesPath {
				continue
			}
			if d.Constraint != token.ILLEGAL {
				add(d.Label.Pos(), "images in %s is marked %s: %s", rel, d.Constraint, lost)
				continue
			}
			st, ok := d.Value.(*ast.StructLit)
			if !ok {
				add(d.Value.Pos(), "images in %s is an expression (a reference, & or |), not a struct written out: %s", rel, lost)
				continue
			}
			for _, e := range st.Elts {
				switch e := e.(type) {
				case *ast.EmbedDecl:
					add(e.Pos(), "images in %s embeds a value: %s", rel, lost)
				case *ast.Comprehension:
					add(e.Pos(), "images in %s has a comprehension (if or for): %s", rel, lost)
				case *ast.Field:
					if _, ok := e.Label.(*ast.ListLit); ok {
						add(e.Label.Pos(), "images in %s has a pattern, `images: [...]: ...`: it changes every image of its folder (in a root file, every image of the catalog), and no image's own file shows it", rel)
						out[len(out)-1].Hint = "write what the pattern says into each image it is for, `images: NAME: {...}`, in catalog/NAME/NAME.cue"
					} else if form := labelForm(e.Label); form != "" {
						add(e.Label.Pos(), "images in %s has a field with %s: %s", rel, form, lost)
					} else if e.Constraint != token.ILLEGAL {
						add(e.Label.Pos(), "image %s in %s is marked %s: an image is declared `images: %s: {...}`, and an optional or required field is no image", labelName(e.Label), rel, e.Constraint, labelName(e.Label))
					}
				}
			}
		}
	}
	return out
}

// labelForm describes a label that is not a name written out ("" for one
// that is: an identifier or a plain string).
func labelForm(l ast.Label) string {
	switch l := l.(type) {
	case *ast.Ident:
		return ""
	case *ast.BasicLit:
		if labelName(l) != "" {
			return ""
		}
	case *ast.ListLit:
		return "a pattern label, [...]"
	case *ast.ParenExpr:
		return "a dynamic label, (...)"
	case *ast.Interpolation:
		return "an interpolated label"
	case *ast.Alias:
		return "an aliased label, X=..."
	}
	return "a label that is no name"
}

// declaredImages returns the images a file declares, by name, each at the
// first place its name is written, in the order written.
func declaredImages(rel string, f *ast.File) []namedPos {
	var out []namedPos
	seen := map[string]bool{}
	for g := range imageFields(f) {
		n := labelName(g.Label)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		p := g.Label.Pos()
		out = append(out, namedPos{n, finding.Position{File: rel, Line: p.Line(), Column: p.Column()}})
	}
	return out
}

// imageFields yields the fields of a file's literal images struct
// (`images: {NAME: ...}` or `images: NAME: ...`), in the order written.
func imageFields(f *ast.File) iter.Seq[*ast.Field] {
	return func(yield func(*ast.Field) bool) {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.Field)
			if !ok || labelName(fd.Label) != schema.ImagesPath {
				continue
			}
			st, ok := fd.Value.(*ast.StructLit)
			if !ok {
				continue
			}
			for _, e := range st.Elts {
				if g, ok := e.(*ast.Field); ok && !yield(g) {
					return
				}
			}
		}
	}
}

// filePos is where a finding about a whole file is shown: its package
// clause, else its first line.
func filePos(rel string, f *ast.File) finding.Position {
	for _, d := range f.Decls {
		if pk, ok := d.(*ast.Package); ok && pk.Pos().IsValid() {
			return finding.Position{File: rel, Line: pk.Pos().Line(), Column: pk.Pos().Column()}
		}
	}
	return finding.Position{File: rel, Line: 1, Column: 1}
}
