package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"golang.org/x/sync/errgroup"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/schema"
)

// Options tunes a load. The zero value is ready to use.
type Options struct {
	// Jobs is the number of instances evaluated at once; default GOMAXPROCS.
	Jobs int
	// InstancesPerContext bounds how many instances one cue.Context evaluates
	// before it is replaced (a context only grows); default 64.
	InstancesPerContext int
	// Overlay adds or replaces files: path relative to the catalog root ->
	// contents. Tests and the fuzzer use it to load catalogs that are not on disk.
	Overlay map[string][]byte
	// Dirs, when set, limits evaluation to these image folders (relative to
	// the root, e.g. "nginx"): a command about a few images need not
	// evaluate the whole catalog. Catalog-wide rules then see only those
	// images; hic vet always loads everything. Files still lists every file.
	Dirs []string
	// CacheDir, when set, keeps each image folder's evaluation there, keyed
	// by the bytes of its files and the hic executable, so that a load of a
	// catalog in which few files changed evaluates only their folders.
	CacheDir string
}

// Catalog is the result of a load.
type Catalog struct {
	// Root is the absolute catalog directory.
	Root string
	// Files are the catalog's CUE files, relative to Root, sorted.
	Files []string
	// Specs are the decoded specs of every image that evaluated cleanly, by ref.
	Specs []*spec.Spec
	// Findings are the syntax and schema errors ("cue-syntax", "schema").
	Findings []finding.Finding
}

// SyntaxErrors reports whether any file failed to parse: such a catalog is
// a load failure, not just a catalog with findings.
func (c *Catalog) SyntaxErrors() bool {
	for _, f := range c.Findings {
		if f.Rule == RuleSyntax {
			return true
		}
	}
	return false
}

// Rule ids the loader reports.
const (
	RuleSyntax = "cue-syntax"
	RuleSchema = "schema"
)

// Load reads the catalog at root. The error is for problems with the catalog
// as a whole (no such directory); problems in its files are findings.
func Load(ctx context.Context, root string, opts Options) (*Catalog, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.GOMAXPROCS(0)
	}
	if opts.InstancesPerContext <= 0 {
		opts.InstancesPerContext = 64
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", root, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		if len(opts.Overlay) == 0 {
			return nil, fmt.Errorf("catalog %s: not a directory (set --catalog or HIC_CATALOG to the catalog root)", root)
		}
	}
	cat := &Catalog{Root: abs}

	sb, err := newSandbox(abs, opts.Overlay)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	if _, err := sb.Stat("cue.mod/module.cue"); errors.Is(err, fs.ErrNotExist) {
		sb.add("cue.mod/module.cue", []byte("module: \"hic.local/catalog\"\nlanguage: version: \"v0.17.0\"\n"))
	}
	dirs, files, err := discover(sb)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", root, err)
	}
	cat.Files = files
	if len(opts.Dirs) > 0 {
		want := sameRepository(sb, files, opts.Dirs)
		want[schema.RepositoriesDir] = true // every image may name them
		dirs = slices.DeleteFunc(dirs, func(d string) bool { return !want[d] })
	}
	tr := newTranslator(abs)
	if len(dirs) == 0 {
		cat.Findings = withSandbox(nil, sb, tr, files)
		return cat, nil
	}

	args := make([]string, len(dirs))
	for i, d := range dirs {
		args[i] = "./" + d
		if d == "." {
			args[i] = "."
		}
	}
	insts := instances(sb, abs, args)

	type job struct {
		inst *build.Instance
		dir  string
	}
	var todo []job
	for i, inst := range insts {
		ign := tr.ignored(inst, sb)
		cat.Findings = append(cat.Findings, ign...)
		if inst.Err != nil {
			for _, f := range tr.loadErrors(inst.Err) {
				// "build constraints exclude all CUE files" repeats, without
				// a position, what the ignored files already say.
				if len(ign) == 0 || f.Pos.IsValid() {
					cat.Findings = append(cat.Findings, f)
				}
			}
			continue
		}
		if len(inst.Imports) > 0 {
			// A package other than CUE's standard library (which is
			// not among Imports) can only be one of the catalog's own
			// module, in a folder no image is in: rule catalog-sandbox
			// refuses the import (embedFindings), and what the package
			// says does not reach an image, not even in hic show.
			continue
		}
		todo = append(todo, job{inst, dirs[i]})
	}

	// The catalog's extra repositories are read first: every image is
	// evaluated with them.
	var repos []byte
	for _, j := range todo {
		if j.dir == schema.RepositoriesDir {
			var fs []finding.Finding
			repos, fs = loadRepositories(tr, j.inst)
			cat.Findings = append(cat.Findings, fs...)
		}
	}

	fileSet := map[string]bool{}
	for _, f := range files {
		fileSet[f] = true
	}
	exists := func(rel string) bool { return fileSet[filepath.FromSlash(rel)] }
	var (
		mu    sync.Mutex
		g     errgroup.Group
		next  = make(chan job)
		specs []*spec.Spec
		ec    = newEvalCache(opts.CacheDir)
	)
	for w := 0; w < opts.Jobs; w++ {
		g.Go(func() error {
			var (
				cctx *cue.Context
				sch  cue.Value
				used int
			)
			// The schema is evaluated in a context only once an instance
			// needs it: a folder the evaluation cache holds does not
			// (unless it declares a definition, looked up in the schema),
			// so a load of an unchanged catalog evaluates no schema.
			evaluated := func() (*cue.Context, cue.Value, error) {
				if cctx == nil || used >= opts.InstancesPerContext {
					c := cuecontext.New()
					v, err := schema.Evaluate(c)
					if err != nil {
						return nil, cue.Value{}, err
					}
					if repos != nil {
						v = v.FillPath(cue.MakePath(cue.Str(schema.RepositoriesPath)), c.CompileBytes(repos))
					}
					cctx, sch, used = c, v, 0
				}
				used++
				return cctx, sch, nil
			}
			for j := range next {
				s, fs, err := evalInstance(evaluated, tr, j.inst, j.dir, exists, ec, withRepositories(ec.key(sb, abs, j.inst, j.dir), repos))
				if err != nil {
					return err
				}
				mu.Lock()
				specs = append(specs, s...)
				cat.Findings = append(cat.Findings, fs...)
				mu.Unlock()
			}
			return nil
		})
	}
	for _, j := range todo {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Workers finish in any order; two images may (wrongly) share a ref, so
	// break ties by file to keep the output, and which one is "first", stable.
	sort.Slice(specs, func(i, j int) bool {
		if specs[i].Ref != specs[j].Ref {
			return specs[i].Ref < specs[j].Ref
		}
		return specs[i].File < specs[j].File
	})
	cat.Specs = specs
	cat.Findings = withSandbox(cat.Findings, sb, tr, files)
	cat.Findings = dedupe(cat.Findings)
	finding.Sort(cat.Findings)
	return cat, nil
}

// instances loads the folders args (./DIR, or . for the root) of the
// catalog at abs through its sandbox, as package hic.
func instances(sb *sandbox, abs string, args []string) []*build.Instance {
	return load.Instances(args, &load.Config{
		FS:         sb,
		Dir:        "/",
		FromFSPath: func(p string) string { return filepath.Join(abs, filepath.FromSlash(strings.TrimPrefix(p, "/"))) },
		Registry:   noRegistry{},
		Env:        []string{},
		Package:    schema.Package,
	})
}

// loadRepositories evaluates the catalog folder repositories/ against the
// schema's #Repository and returns its repositories as JSON (nil when it
// declares none), or the findings that refuse them.
func loadRepositories(tr *translator, inst *build.Instance) ([]byte, []finding.Finding) {
	cctx := cuecontext.New()
	sch, err := schema.Evaluate(cctx)
	if err != nil {
		return nil, []finding.Finding{tr.finding(RuleSchema, schema.RepositoriesPath, err.Error(), nil)}
	}
	v := cctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		return nil, tr.evalErrors(err, "")
	}
	path := cue.MakePath(cue.Str(schema.RepositoriesPath))
	rv := v.LookupPath(path)
	if !rv.Exists() {
		return nil, nil
	}
	u := sch.LookupPath(path).Unify(rv)
	if err := u.Validate(cue.Concrete(true), cue.All()); err != nil {
		return nil, tr.evalErrors(err, "")
	}
	b, err := u.MarshalJSON()
	if err != nil {
		return nil, tr.evalErrors(err, "")
	}
	return b, nil
}

// withRepositories makes an evaluation cache key depend on the catalog's
// repositories too.
func withRepositories(key string, repos []byte) string {
	if key == "" || repos == nil {
		return key
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", key)
	h.Write(repos)
	return hex.EncodeToString(h.Sum(nil))
}

// discover lists the directories below the catalog root that hold CUE
// files (relative, "." for the root itself) and every CUE file (relative),
// both sorted. It walks the sandbox, so it sees what the loader will see.
func discover(sb *sandbox) (dirs, files []string, err error) {
	dirSet := map[string]bool{}
	err = fs.WalkDir(sb, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && (name == "cue.mod" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".cue") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		rel := filepath.FromSlash(p)
		files = append(files, rel)
		dirSet[filepath.Dir(rel)] = true
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	sort.Strings(files)
	return dirs, files, nil
}

// withSandbox adds the sandbox's findings; a schema error CUE reports at
// the same place (an @embed it could not read, an import it could not
// resolve) adds nothing to them.
func withSandbox(fs []finding.Finding, sb *sandbox, tr *translator, files []string) []finding.Finding {
	srcs := map[string][]byte{} // each file read once, for both checks
	for _, rel := range files {
		if b, err := sb.ReadFile(filepath.ToSlash(rel)); err == nil {
			srcs[rel] = b
		}
	}
	sf := slices.Concat(embedFindings(sb, tr, files, srcs), sandboxFindings(sb), encodingFindings(files, srcs))
	at := map[finding.Position]bool{}
	for _, f := range sf {
		at[f.Pos] = true
	}
	fs = slices.DeleteFunc(fs, func(f finding.Finding) bool { return (f.Rule == RuleSchema || f.Rule == RuleSyntax) && at[f.Pos] })
	return append(fs, sf...)
}

// encodingFindings reports the first byte of each catalog file that is not
// UTF-8: CUE's parser reads it as U+FFFD, inside a string silently, so a
// Latin-1 "é" would reach the image as a replacement character.
func encodingFindings(files []string, srcs map[string][]byte) []finding.Finding {
	var out []finding.Finding
	for _, rel := range files {
		src, ok := srcs[rel]
		if !ok || utf8.Valid(src) {
			continue
		}
		line, col := 1, 1
		for i := 0; i < len(src); {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n == 1 {
				out = append(out, finding.Finding{
					Rule: RuleSyntax, Severity: finding.Error,
					Pos:     finding.Position{File: rel, Line: line, Column: col},
					Message: fmt.Sprintf("byte 0x%02x is not UTF-8: CUE files are UTF-8, and the parser would read it as U+FFFD", src[i]),
					Hint:    "save the file as UTF-8 (the editor wrote another encoding, such as Latin-1)",
				})
				break
			}
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col += n
			}
			i += n
		}
	}
	return out
}

// sandboxFindings reports what the sandbox left out of the catalog.
func sandboxFindings(sb *sandbox) []finding.Finding {
	var out []finding.Finding
	for p, why := range sb.Refused() {
		base := path.Base(p)
		if strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
			continue
		}
		msg, hint := fmt.Sprintf("%s is %s: it was left out of the catalog", p, why), sandboxHint
		if dir := buildOutput(sb, p); dir != "" {
			msg += fmt.Sprintf("; %s is the output of a hic build (its --out or --cache-dir) inside the catalog", dir)
			hint = fmt.Sprintf("move %s outside the catalog root and build with --out outside it (hic build refuses an --out or --cache-dir inside the catalog)", dir)
		}
		out = append(out, finding.Finding{
			Rule: RuleSandbox, Severity: finding.Error,
			Pos:     finding.Position{File: filepath.FromSlash(p), Line: 1, Column: 1},
			Message: msg,
			Hint:    hint,
		})
	}
	finding.Sort(out)
	return out
}

const sandboxHint = "a catalog holds only directories and regular files inside its root: replace the link or special file with the file's contents, or remove it"

// buildOutput names the directory of a hic build's output that holds p,
// when p is in one: a directory with an image layout (oci/oci-layout, an
// --out), or the cache whose hic-mirrors/ holds apko's links to the mirrors
// (a --cache-dir). It only words the finding: the entry is refused all
// the same.
func buildOutput(sb *sandbox, p string) string {
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		if _, why, err := sb.check(path.Join(d, "oci", "oci-layout")); err == nil && why == "" {
			return d
		}
	}
	if parent := path.Dir(p); path.Base(parent) == "hic-mirrors" && path.Dir(parent) != "." {
		return path.Dir(parent)
	}
	return ""
}

// evalInstance evaluates one image folder and decodes the specs of the images
// its own files declare.
// exists says whether the catalog holds a CUE file (relative to the root),
// for the layout's hints.
func evalInstance(evaluated func() (*cue.Context, cue.Value, error), tr *translator, inst *build.Instance, dir string, exists func(string) bool, ec *evalCache, key string) ([]*spec.Spec, []finding.Finding, error) {
	// The worker's context and schema, asked for once, when needed.
	var (
		cctx *cue.Context
		sch  cue.Value
	)
	need := func() error {
		if cctx != nil {
			return nil
		}
		var err error
		cctx, sch, err = evaluated()
		return err
	}
	idx := newIndex()
	var own []string // images declared by files of this very folder
	var findings []finding.Finding
	for _, f := range inst.Files {
		// Every file of the instance is a catalog file: the schema is
		// evaluated apart (schema.Evaluate), never added to an instance,
		// so a catalog file named like a schema file (hic.schema.x.cue) is
		// indexed and layout-checked like any other.
		rel := tr.rel(f.Filename)
		names := idx.addFile(rel, f)
		if filepath.Dir(rel) == dir {
			own = append(own, names...)
		}
		// The layout is judged on the syntax, before the evaluation cache
		// is asked, so a cached folder reports it too. The files of parent
		// folders (which CUE adds to the instance) are judged with every
		// folder below them; Load drops the repeats.
		findings = append(findings, layoutFindings(rel, f, exists)...)
	}
	tr = tr.withIndex(idx)
	for _, u := range idx.unknownTop {
		if filepath.Dir(u.pos.File) == dir {
			findings = append(findings, finding.Finding{
				Rule: RuleSchema, Severity: finding.Error, Pos: u.pos,
				Message: fmt.Sprintf("unknown top-level field %q: a catalog file declares images only", u.name),
				Hint:    "write the image as `images: NAME: {...}`; helpers that are not images go in hidden fields (_name) or definitions (#Name)",
			})
		}
	}
	for _, d := range idx.defs {
		// The schema is evaluated on its own, so a catalog file cannot
		// change one of its definitions; say so rather than ignore it.
		if filepath.Dir(d.pos.File) != dir {
			continue
		}
		if err := need(); err != nil {
			return nil, nil, err
		}
		if sch.LookupPath(cue.MakePath(cue.Def(d.name))).Exists() {
			findings = append(findings, finding.Finding{
				Rule: RuleSchema, Severity: finding.Error, Pos: d.pos,
				Message: fmt.Sprintf("%s is a schema definition: a catalog file cannot change it", d.name),
				Hint:    "give the helper another name; distros, variants and rules change in schema/*.cue, in review",
			})
		}
	}
	if cv, ok := ec.get(key); ok {
		loc := &locator{idx: idx}
		for _, s := range cv.Specs {
			s.Locator = loc
		}
		return cv.Specs, append(findings, cv.Findings...), nil
	}
	if err := need(); err != nil {
		return nil, nil, err
	}
	s, fs := evalImages(cctx, sch, tr, inst, dir, idx, own)
	ec.put(key, s, fs)
	return s, append(findings, fs...), nil
}

// evalImages evaluates the images the folder's own files declare.
func evalImages(cctx *cue.Context, sch cue.Value, tr *translator, inst *build.Instance, dir string, idx *index, own []string) ([]*spec.Spec, []finding.Finding) {
	var (
		specs    []*spec.Spec
		findings []finding.Finding
	)
	// The instance holds the folder's files only: plain data. Each image is
	// unified with the schema's images pattern, whose schema value the
	// worker evaluated once for all the instances of its context.
	v := cctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		if !v.LookupPath(cue.MakePath(cue.Str(schema.ImagesPath))).Exists() {
			return nil, append(findings, tr.evalErrors(err, "")...)
		}
	}
	images := sch.LookupPath(cue.MakePath(cue.Str(schema.ImagesPath)))
	sort.Strings(own)
	nameDef := sch.LookupPath(cue.MakePath(cue.Def("#Name")))
	for _, name := range uniq(own) {
		// images: [#Name]: #Image leaves a key that is not a #Name
		// unconstrained: it would be dropped without a word.
		if nameDef.Exists() && nameDef.Unify(cctx.Encode(name)).Err() != nil {
			pos, _ := idx.exact(schema.ImagesPath, name)
			findings = append(findings, tr.finding(RuleSchema, "images",
				fmt.Sprintf("image name %q: expected %s", name, describe(fmt.Sprint(nameDef))), &pos))
			continue
		}
		namePath := cue.MakePath(cue.Str(name))
		raw := v.LookupPath(cue.MakePath(cue.Str(schema.ImagesPath), cue.Str(name)))
		iv := images.FillPath(namePath, raw).LookupPath(namePath)
		if fs := validateImage(tr, iv, name); len(fs) > 0 {
			findings = append(findings, fs...)
			continue
		}
		s, fs := decodeSpecs(tr, iv, name, idx)
		if len(s) == 0 && len(fs) == 0 {
			pos, _ := idx.lookup([]string{schema.ImagesPath, name, schema.StreamsField})
			fs = append(fs, tr.finding(RuleSchema, "images."+name+"."+schema.StreamsField,
				fmt.Sprintf("image %s has no streams, so it has no specs: the schema expects at least one stream", name), &pos))
		}
		specs = append(specs, s...)
		findings = append(findings, fs...)
	}
	return specs, findings
}

// validateImage checks every field of an image but its derived specs, so a
// mistake is reported once, where it was written, not once per spec.
func validateImage(tr *translator, iv cue.Value, name string) []finding.Finding {
	if !iv.Exists() {
		var pos *finding.Position
		if tr.idx != nil {
			if p, ok := tr.idx.exact(schema.ImagesPath, name); ok {
				pos = &p
			}
		}
		return []finding.Finding{tr.finding(RuleSchema, "images."+name, "image "+name+" did not evaluate", pos)}
	}
	var out []finding.Finding
	it, err := iv.Fields(cue.Optional(false))
	if err != nil {
		return tr.evalErrors(err, name)
	}
	for it.Next() {
		if it.Selector().String() == schema.SpecsField {
			continue
		}
		if err := it.Value().Validate(cue.Concrete(true), cue.All()); err != nil {
			out = append(out, tr.evalErrors(err, name)...)
		}
	}
	return dropCaused(out)
}

func decodeSpecs(tr *translator, iv cue.Value, name string, idx *index) ([]*spec.Spec, []finding.Finding) {
	sv := iv.LookupPath(cue.MakePath(cue.Str(schema.SpecsField)))
	it, err := sv.Fields()
	if err != nil {
		return nil, tr.evalErrors(err, name)
	}
	var (
		out      []*spec.Spec
		findings []finding.Finding
	)
	loc := &locator{idx: idx}
	for it.Next() {
		v := it.Value()
		// The image's fields were validated above, so a spec almost always
		// decodes; only when it does not is it validated in full, for the
		// complete list of errors.
		s := new(spec.Spec)
		if err := v.Decode(s); err != nil {
			if verr := v.Validate(cue.Concrete(true), cue.All()); verr != nil {
				err = verr
			}
			findings = append(findings, tr.evalErrors(err, name)...)
			continue
		}
		s.File = idx.imageFile[name]
		s.Locator = loc
		out = append(out, s)
	}
	return out, findings
}

// ignored reports catalog files cue/load left out of inst, such as a file
// with another package clause: silently skipping it would pass a catalog
// whose images were never checked.
func (t *translator) ignored(inst *build.Instance, sb *sandbox) []finding.Finding {
	var out []finding.Finding
	for _, f := range inst.IgnoredFiles {
		base := filepath.Base(f.Filename)
		if !strings.HasSuffix(base, ".cue") || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
			continue
		}
		rel := t.rel(f.Filename)
		if filepath.IsAbs(rel) || strings.HasPrefix(rel, "cue.mod") {
			continue
		}
		pos := finding.Position{File: rel, Line: 1, Column: 1}
		src, _ := sb.ReadFile(filepath.ToSlash(rel))
		if af, err := parser.ParseFile(f.Filename, src, parser.PackageClauseOnly); err == nil {
			for _, d := range af.Decls {
				if pk, ok := d.(*ast.Package); ok && pk.Name != nil {
					pos = t.pos(pk.Name.Pos())
				}
			}
		}
		reason := "the file is not part of the catalog"
		if f.ExcludeReason != nil {
			reason = f.ExcludeReason.Error()
		}
		out = append(out, finding.Finding{
			Rule: RuleSyntax, Severity: finding.Error, Pos: pos, Hint: syntaxHint,
			Message: fmt.Sprintf("file left out of the catalog: %s", reason),
		})
	}
	return out
}

func uniq(ss []string) []string {
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func dedupe(fs []finding.Finding) []finding.Finding {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := f.Rule + "\x00" + f.Pos.String() + "\x00" + f.Message
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

var _ = ast.NewIdent
var _ = cueerrors.Errors

// sameRepository widens a selection of image folders to every folder with an
// image publishing into the same repository (an image's repository is its
// name unless it sets repository: "..."), so the catalog-wide tag rules see
// every spec that could claim a selected image's tags. It only parses the
// files; a file that does not parse is selected, so its error is reported.
func sameRepository(sb *sandbox, files []string, selected []string) map[string]bool {
	repos := map[string][]string{} // folder -> repositories of its images
	for _, rel := range files {
		src, err := sb.ReadFile(filepath.ToSlash(rel))
		if err != nil {
			continue
		}
		dir := filepath.Dir(rel)
		f, err := parser.ParseFile(rel, src)
		if err != nil {
			repos[dir] = append(repos[dir], "\x00unparsed")
			continue
		}
		for img := range imageFields(f) {
			repo := labelName(img.Label)
			if body, ok := img.Value.(*ast.StructLit); ok {
				for _, b := range body.Elts {
					if rf, ok := b.(*ast.Field); ok && labelName(rf.Label) == "repository" {
						if lit, ok := rf.Value.(*ast.BasicLit); ok {
							if r, err := strconv.Unquote(lit.Value); err == nil {
								repo = r
							}
						}
					}
				}
			}
			repos[dir] = append(repos[dir], repo)
		}
	}
	want := map[string]bool{}
	wantRepo := map[string]bool{}
	for _, d := range selected {
		d = filepath.Clean(d)
		want[d] = true
		for _, r := range repos[d] {
			wantRepo[r] = true
		}
	}
	for d, rs := range repos {
		for _, r := range rs {
			if wantRepo[r] || r == "\x00unparsed" {
				want[d] = true
			}
		}
	}
	return want
}
