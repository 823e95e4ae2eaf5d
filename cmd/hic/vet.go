package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/spec"
)

type vetOptions struct {
	format       string
	today        string
	showWaived   bool
	showWarnings bool
	// workspace is $GITHUB_WORKSPACE, the root the github format names
	// files relative to.
	workspace string
}

const vetLong = `Vet type-checks catalog specs against the hardening schema and applies the
static hardening rules and the catalog-wide rules (unique tags and refs).

Each PATH is a catalog root, an image folder or an image file (.cue) the
catalog's loader reads; anything else (README.md, cue.mod/, a .cue file in
no catalog) is a usage error. An argument that is no file and reads as a
ref (nginx, nginx:1.31, nginx:latest) vets those specs of the catalog
(--catalog), the catalog-wide rules included, and every file of the
image's folder (catalog/nginx/): a ref whose image does not evaluate shows
why, as the folder does. Without arguments the whole catalog is vetted.

A PATH's catalog (the nearest directory at or above it holding cue.mod,
else the --catalog directory when PATH lies in it, else a directory PATH
itself) is loaded and checked whole, since the catalog-wide rules compare
every spec; the findings shown and the specs counted are those of the
paths and refs named. Errors of no spec elsewhere in the catalog (a file
that does not load, the layout, an advisory) are counted and located in
the summary and fail vet too, as they fail hic build --all: vet of a part
passes only when the catalog loads.

An error fails vet; a warning (an old stream without an end of life, a
program the package universe cannot vouch for, an exception that waives
nothing) is reported only. The text output lists every error as

  FILE:LINE:COL: error: RULE: MESSAGE
      fix: HINT

grouped by the specs it concerns, then a summary that counts errors and
warnings and the warnings of each rule. --show-warnings lists the warnings
too, as FILE:LINE:COL: warning: RULE: MESSAGE, before the errors, so the
errors stay next to the summary. --show-waived lists the findings
exceptions waive, first, as FILE:LINE:COL: waived: RULE: MESSAGE (reason:
REASON). --format github annotates them all (::error, ::warning, and
::notice for a waived one with --show-waived), each file named relative to
$GITHUB_WORKSPACE, or else to the root of its git repository, wherever vet
runs from, as GitHub places annotations; --format json lists every
finding with its severity, once per spec it concerns, and counts those
entries (failing, warnings, waived), where the text counts a mistake
shared by several specs once.

Exit status: 0 no errors, however many warnings; 1 errors; 2 usage error
or a catalog that does not load (CUE syntax errors; listed on stderr when
they lie outside the selection).`

func newVetCmd(root *rootOptions) *cobra.Command {
	o := &vetOptions{}
	cmd := &cobra.Command{
		Use:   "vet [PATH|REF...]",
		Short: "Check specs against the schema and the hardening rules",
		Long:  vetLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch o.format {
			case "text", "json", "github":
			default:
				return usageError("--format %q: want text, json or github", o.format)
			}
			o.workspace = root.getenv("GITHUB_WORKSPACE")
			today, err := parseToday(o.today)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{root.catalog}
			}
			// An argument that is no file and reads as a ref (nginx,
			// nginx:1.31, nginx:latest) names specs of the catalog.
			var paths, refs []string
			for _, a := range args {
				fi, err := os.Stat(a)
				if err != nil && !strings.ContainsAny(a, `/\`) && !strings.HasSuffix(a, ".cue") {
					refs = append(refs, a)
					continue
				}
				if err == nil && !fi.IsDir() && filepath.Ext(a) != ".cue" {
					return usageError("%s is not a .cue file: hic vet takes a catalog root, an image folder (catalog/nginx), an image file (catalog/nginx/nginx.cue) or a ref (nginx, nginx:1.31)", a)
				}
				paths = append(paths, a)
			}
			// Group the paths by catalog root: each root is loaded once.
			byRoot := map[string][]string{}
			var roots []string
			refRoot := ""
			if len(refs) > 0 {
				r, err := catalog.FindRoot(root.catalog)
				if err != nil {
					return usageError("%s: no such file or directory, and no catalog to read it as a ref from (%v)", refs[0], err)
				}
				refRoot, roots, byRoot[r] = r, append(roots, r), nil
			}
			given := map[string]string{} // absolute path -> as given
			for _, a := range paths {
				r, err := vetRoot(a, root.catalog)
				if err != nil {
					return usageError("%v", err)
				}
				abs, _ := filepath.Abs(a)
				if _, seen := byRoot[r]; !seen {
					roots = append(roots, r)
				}
				byRoot[r] = append(byRoot[r], abs)
				given[abs] = a
			}
			res := vetResult{}
			syntax := false
			for _, r := range roots {
				l, err := root.loadAndCheck(cmd.Context(), r, today)
				if err != nil {
					return err
				}
				if err := catalogFiles(l, r, byRoot[r], given); err != nil {
					return err
				}
				syntax = syntax || l.catalog.SyntaxErrors()
				var (
					specs []*spec.Spec
					dirs  []string
				)
				if r == refRoot {
					if specs, dirs, err = l.vetSelection(r, refs); err != nil {
						return err
					}
				}
				res.add(l, r, byRoot[r], dirs, specs)
			}
			if err := res.write(cmd.OutOrStdout(), o); err != nil {
				return err
			}
			switch {
			case syntax && len(res.hiddenSyntax) > 0:
				// The errors that decide the exit code are shown, though
				// they lie outside the selection.
				writeFindings(cmd.ErrOrStderr(), res.hiddenSyntax)
				return usageError("the catalog does not load: fix the cue-syntax %s above, outside the selection (hic build refuses every image of the catalog until then)", map[bool]string{true: "error", false: "errors"}[len(res.hiddenSyntax) == 1])
			case syntax:
				return usageError("the catalog does not load: fix the cue-syntax errors listed (hic build refuses every image of the catalog until then)")
			case res.failing > 0 || res.Outside > 0:
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.format, "format", "o", "text", "output format: text, json or github (workflow annotations)")
	cmd.Flags().StringVar(&o.today, "today", "", "judge end-of-life against this date (YYYY-MM-DD) instead of today")
	cmd.Flags().BoolVar(&o.showWaived, "show-waived", false, "also list findings waived by exceptions")
	cmd.Flags().BoolVar(&o.showWarnings, "show-warnings", false, "also list the warnings (text; without it they are counted by rule)")
	return cmd
}

type vetResult struct {
	Findings []finding.Finding `json:"findings"`
	Specs    int               `json:"specs"`
	Images   int               `json:"images"`
	Files    int               `json:"files"`
	// Outside counts the errors of no spec outside the selection (a file
	// that does not load, the layout, an advisory), in OutsideFiles: they
	// fail vet as they fail hic build --all, and some (a syntax error) a
	// build of the selection too.
	Outside      int      `json:"outside"`
	OutsideFiles []string `json:"outsideFiles,omitempty"`
	// hiddenSyntax are the syntax errors among them, shown on stderr: they
	// decide vet's exit code (2).
	hiddenSyntax []finding.Finding
	// Unchecked are the specs of distros without a package universe: vet
	// cannot check their pins against the distro's real data.
	Unchecked        []string `json:"unchecked,omitempty"`
	uncheckedDistros map[string]int
	// failing, warnings and waived count findings as the text shows them:
	// one shared by several specs once (--format json counts its entries).
	failing  int
	warnings int
	waived   int
	// warningRules counts the warnings by rule, for the summary.
	warningRules map[string]int
}

// add keeps the findings of l that lie under one of paths (all of them when a
// path is the root itself), concern one of specs, or concern no spec and lie
// in one of dirs (the folders of the images refs name) or in the file of one
// of specs; with positions relative to the working directory. It counts what
// was asked for: specs and the specs defined under paths, and their files
// and those of dirs. The whole catalog was loaded and checked all the same,
// since the catalog-wide rules (unique tags and refs) compare every spec.
func (r *vetResult) add(l *loaded, root string, paths, dirs []string, specs []*spec.Spec) {
	whole := slices.Contains(paths, root)
	// within reports whether a file (relative to root) lies under one of ps.
	within := func(rel string, ps []string) bool {
		abs := filepath.Join(root, rel)
		for _, p := range ps {
			if abs == p || strings.HasPrefix(abs, p+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	under := func(rel string) bool { return whole || within(rel, paths) }
	refs, specFiles := map[string]bool{}, map[string]bool{}
	for _, s := range specs {
		refs[s.Ref], specFiles[s.File] = true, true
	}
	keep := func(f finding.Finding) bool {
		return whole || refs[f.Ref] ||
			(f.Ref == "" && f.Pos.IsValid() && (specFiles[f.Pos.File] || within(f.Pos.File, dirs))) ||
			(f.Pos.IsValid() && under(f.Pos.File))
	}
	asked := slices.Clone(specs)
	for _, s := range l.catalog.Specs {
		if !refs[s.Ref] && under(s.File) {
			asked = append(asked, s)
		}
	}
	files := maps.Clone(specFiles)
	for _, f := range l.catalog.Files {
		if under(f) || within(f, dirs) {
			files[f] = true
		}
	}
	// One mistake shared by several specs (same rule, place and message)
	// counts once, as it is shown once.
	counted := map[string]bool{}
	for _, f := range l.findings {
		if !keep(f) {
			continue
		}
		f.Pos = displayPos(root, f.Pos)
		r.Findings = append(r.Findings, f)
		if k := mergeKey(f); !counted[k] {
			counted[k] = true
			switch {
			case f.Waived:
				r.waived++
			case f.Failing():
				r.failing++
			default:
				r.warnings++
				if r.warningRules == nil {
					r.warningRules = map[string]int{}
				}
				r.warningRules[f.Rule]++
			}
		}
	}
	// The errors of no spec elsewhere: counted, so that vet of a part of
	// the catalog passes only when the catalog loads as hic build loads it.
	outsideFiles := map[string]bool{}
	for _, f := range l.findings {
		if keep(f) || f.Ref != "" || !f.Failing() {
			continue
		}
		f.Pos = displayPos(root, f.Pos)
		if k := mergeKey(f); !counted[k] {
			counted[k] = true
			r.Outside++
			if f.Pos.IsValid() && !outsideFiles[f.Pos.File] {
				outsideFiles[f.Pos.File] = true
				r.OutsideFiles = append(r.OutsideFiles, f.Pos.File)
			}
			if f.Rule == load.RuleSyntax {
				r.hiddenSyntax = append(r.hiddenSyntax, f)
			}
		}
	}
	sort.Strings(r.OutsideFiles)
	for _, s := range asked {
		if l.universes[s.Distro] == nil {
			r.Unchecked = append(r.Unchecked, s.Ref)
			if r.uncheckedDistros == nil {
				r.uncheckedDistros = map[string]int{}
			}
			r.uncheckedDistros[s.Distro]++
		}
	}
	r.Specs += len(asked)
	r.Images += images(asked)
	r.Files += len(files)
}

func (r *vetResult) write(w io.Writer, o *vetOptions) error {
	switch o.format {
	case "json":
		if r.Findings == nil {
			r.Findings = []finding.Finding{}
		}
		// The counts are those of the findings listed: one entry per spec
		// a finding concerns (the text counts lines, one per mistake).
		var failing, warnings, waived int
		for _, f := range r.Findings {
			switch {
			case f.Waived:
				waived++
			case f.Failing():
				failing++
			default:
				warnings++
			}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*vetResult
			Failing  int `json:"failing"`
			Warnings int `json:"warnings"`
			Waived   int `json:"waived"`
		}{r, failing, warnings, waived})
	case "github":
		// Workflow commands: ::warning for a warning, ::error for an
		// error, errors last; with --show-waived, ::notice for a waived
		// finding, first.
		waived, warnings, errors := bySeverity(r.Findings)
		shown := append(warnings, errors...)
		if o.showWaived {
			shown = append(waived, shown...)
		}
		for _, g := range shown {
			msg, kind, title := ghEscape(g.Message), string(severity(g.Finding)), g.Rule
			switch {
			case g.Waived:
				kind, title = "notice", g.Rule+" (waived)"
				msg += "%0Awaived: " + ghEscape(g.Reason)
			case g.Hint != "":
				msg += "%0Afix: " + ghEscape(g.Hint)
			}
			if len(g.refs) > 0 {
				msg += "%0Aspecs: " + ghEscape(strings.Join(g.refs, ", "))
			}
			fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n",
				kind, ghFile(g.Pos.File, o.workspace), g.Pos.Line, g.Pos.Column, title, msg)
		}
		fmt.Fprintf(w, "%s\n", r.summary(o.showWaived, true))
		return nil
	}
	// text: the waived findings and the warnings when asked for, then the
	// errors, so they end next to the summary.
	waived, warnings, errors := bySeverity(r.Findings)
	if o.showWaived {
		writeBlocks(w, waived)
	}
	if o.showWarnings {
		writeBlocks(w, warnings)
	}
	writeBlocks(w, errors)
	fmt.Fprintln(w, r.summary(o.showWaived, o.showWarnings))
	return nil
}

// ghFile is the path of a finding's file as GitHub places annotations:
// relative to workspace (else the root of the git repository holding the
// file), wherever vet runs from. A file outside it, or an embedded schema
// file, keeps its path.
func ghFile(file, workspace string) string {
	if file == "" || strings.HasPrefix(file, "schema/") {
		return file
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return file
	}
	root := workspace
	if root == "" {
		root = gitRoot(filepath.Dir(abs))
	}
	if root == "" {
		return file
	}
	if root, err = filepath.Abs(root); err != nil {
		return file
	}
	r, err := filepath.Rel(root, abs)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return file
	}
	return filepath.ToSlash(r)
}

// gitRoot is the nearest directory at or above dir that holds .git (a
// directory, or a file in a worktree), or "".
func gitRoot(dir string) string {
	for {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// writeFindings lists findings as vet's text output does, every one of
// them (waived, warnings, then errors), without vet's summary: for the
// commands that refuse findings and say so in their own error.
func writeFindings(w io.Writer, fs []finding.Finding) {
	waived, warnings, errors := bySeverity(fs)
	writeBlocks(w, waived)
	writeBlocks(w, warnings)
	writeBlocks(w, errors)
}

// writeBlocks writes findings (merged across specs) as text, grouped by the
// set of specs they concern.
func writeBlocks(w io.Writer, ms []merged) {
	type block struct {
		header string
		items  []merged
	}
	var blocks []*block
	index := map[string]*block{}
	for _, g := range ms {
		h := g.Pos.File
		if len(g.refs) > 0 {
			h = strings.Join(abbrev(g.refs), ", ")
		}
		b, ok := index[h]
		if !ok {
			b = &block{header: h}
			index[h] = b
			blocks = append(blocks, b)
		}
		b.items = append(b.items, g)
	}
	for _, b := range blocks {
		fmt.Fprintf(w, "%s\n", b.header)
		for _, g := range b.items {
			// A waived finding reads as waived, with the exception's
			// reason, not as an error that fails.
			if g.Waived {
				fmt.Fprintf(w, "  %s: waived: %s: %s (reason: %s)\n", g.Pos, g.Rule, g.Message, g.Reason)
				continue
			}
			fmt.Fprintf(w, "  %s: %s: %s: %s\n", g.Pos, severity(g.Finding), g.Rule, g.Message)
			if g.Hint != "" {
				fmt.Fprintf(w, "      fix: %s\n", g.Hint)
			}
		}
	}
}

// summary counts the specs, errors and warnings; the warnings by rule when
// they were not listed (listedWarnings), and the waived findings with a
// pointer to --show-waived when they were not (listedWaived).
func (r *vetResult) summary(listedWaived, listedWarnings bool) string {
	s := fmt.Sprintf("%s in %s, %s: %s, %s", count(r.Specs, "spec"), count(r.Images, "image"), count(r.Files, "file"),
		countOrNo(r.failing, "error"), countOrNo(r.warnings, "warning"))
	by, them := "exceptions", "them"
	if r.waived == 1 {
		by, them = "an exception", "it"
	}
	switch {
	case r.waived > 0 && listedWaived:
		s += fmt.Sprintf(" (%d waived by %s)", r.waived, by)
	case r.waived > 0:
		s += fmt.Sprintf(" (%d waived by %s; --show-waived lists %s)", r.waived, by, them)
	}
	if r.Outside > 0 {
		verb, subject, it := "fails", "it", "it"
		if r.Outside > 1 {
			verb, subject, it = "fail", "they", "them"
		}
		s += fmt.Sprintf("\n%s outside the selection %s vet, as %s %s hic build --all", count(r.Outside, "error"), verb, subject, verb)
		switch n := len(r.OutsideFiles); {
		case n > 0 && n <= 4:
			s += fmt.Sprintf(": in %s (hic vet %s shows %s)", strings.Join(r.OutsideFiles, ", "), strings.Join(r.OutsideFiles, " "), it)
		case n > 4:
			s += fmt.Sprintf(": in %s (hic vet shows %s)", strings.Join(abbrev(r.OutsideFiles), ", "), it)
		default:
			s += fmt.Sprintf(" (hic vet shows %s)", it)
		}
	}
	if r.warnings > 0 && !listedWarnings {
		s += fmt.Sprintf("\n%s not listed: %s (--show-warnings lists them)", count(r.warnings, "warning"), byRule(r.warningRules))
	}
	if len(r.Unchecked) > 0 {
		distros := make([]string, 0, len(r.uncheckedDistros))
		for d := range r.uncheckedDistros {
			distros = append(distros, d)
		}
		sort.Strings(distros)
		s += fmt.Sprintf("\n%s not checked against real package data: %s %s no package universe (--format json lists the specs)",
			count(len(r.Unchecked), "spec"), strings.Join(distros, ", "), map[bool]string{true: "has", false: "have"}[len(distros) == 1])
	}
	return s
}

// byRule lists counts by rule, the most frequent first:
// "283 universe-verified, 54 eol-known".
func byRule(n map[string]int) string {
	rules := make([]string, 0, len(n))
	for r := range n {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		if n[rules[i]] != n[rules[j]] {
			return n[rules[i]] > n[rules[j]]
		}
		return rules[i] < rules[j]
	})
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = fmt.Sprintf("%d %s", n[r], r)
	}
	return strings.Join(parts, ", ")
}

// countOrNo is count, with "no" for none: "no errors", "1 error".
func countOrNo(n int, noun string) string {
	if n == 0 {
		return "no " + noun + "s"
	}
	return count(n, noun)
}

// severity is the word a text line gives a finding: error for one that fails
// vet (or would, were it not waived), warning for one reported only.
func severity(f finding.Finding) finding.Severity {
	if f.Severity == finding.Error {
		return finding.Error
	}
	return finding.Warning
}

// mergeKey identifies a finding as it is shown: findings of several specs
// with the same key are one line.
func mergeKey(f finding.Finding) string {
	return f.Rule + "\x00" + f.Pos.String() + "\x00" + f.Message + "\x00" + fmt.Sprint(f.Waived)
}

// merged is one finding shared by several specs.
type merged struct {
	finding.Finding
	refs []string
}

func merge(fs []finding.Finding) []merged {
	var out []merged
	at := map[string]int{}
	for _, f := range fs {
		k := mergeKey(f)
		if i, ok := at[k]; ok {
			if f.Ref != "" {
				out[i].refs = append(out[i].refs, f.Ref)
			}
			continue
		}
		m := merged{Finding: f}
		if f.Ref != "" {
			m.refs = []string{f.Ref}
		}
		at[k] = len(out)
		out = append(out, m)
	}
	for i := range out {
		sort.Strings(out[i].refs)
	}
	return out
}

// bySeverity merges findings across specs and splits them into the waived
// ones, the warnings and the errors, each in the order of fs.
func bySeverity(fs []finding.Finding) (waived, warnings, errors []merged) {
	for _, g := range merge(fs) {
		switch {
		case g.Waived:
			waived = append(waived, g)
		case g.Failing():
			errors = append(errors, g)
		default:
			warnings = append(warnings, g)
		}
	}
	return waived, warnings, errors
}

// abbrev keeps a header readable when a finding concerns many specs.
func abbrev(refs []string) []string {
	if len(refs) <= 4 {
		return refs
	}
	return append(append([]string(nil), refs[:3]...), fmt.Sprintf("and %d more", len(refs)-3))
}

func ghEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// vetSelection returns the specs refs name and the folders of the images
// named (root/IMAGE, where it exists), whose every finding vet shows: a file of
// the folder other than the image's own (a helper that breaks the layout)
// stops a build of the image too. A ref whose image has a folder but no
// spec (its file does not evaluate: a syntax or schema error, or declares
// no image) selects the folder alone, so vet shows why rather than "no spec
// matches". A ref that matches nothing else is a usage error, as before.
func (l *loaded) vetSelection(root string, refs []string) ([]*spec.Spec, []string, error) {
	var (
		specs   []*spec.Spec
		dirs    []string
		missing []string
	)
	seen, dirSeen, evaluated := map[*spec.Spec]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range l.catalog.Specs {
		evaluated[s.Image] = true
	}
	addDir := func(d string) {
		if d != "" && !dirSeen[d] {
			dirSeen[d] = true
			dirs = append(dirs, d)
		}
	}
	for _, ref := range refs {
		img, _, _ := strings.Cut(ref, ":")
		d := imageDir(root, img)
		ss, err := l.selectSpecs([]string{ref})
		if err != nil {
			if d != "" && !evaluated[img] {
				addDir(d)
				continue
			}
			missing = append(missing, ref)
			continue
		}
		addDir(d)
		for _, s := range ss {
			if !seen[s] {
				seen[s] = true
				specs = append(specs, s)
			}
			addDir(imageDir(root, s.Image))
		}
	}
	if len(missing) > 0 {
		_, err := l.selectSpecs(missing)
		return nil, nil, err
	}
	return specs, dirs, nil
}

// imageDir is the folder of image img in the catalog at root (absolute), or
// "" when there is none.
func imageDir(root, img string) string {
	if img == "" || strings.ContainsAny(img, `/\.`) {
		return ""
	}
	d := filepath.Join(root, img)
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		return ""
	}
	return d
}

// vetRoot is the catalog root of a PATH: the nearest directory at or above
// it holding cue.mod; with none, the directory --catalog names when the
// path lies in it (a catalog without cue.mod, whose image folder is no
// root of its own), else a directory path itself. A file in no catalog is
// an error: its directory (/tmp, a home directory) is no catalog to load.
func vetRoot(path, catalogFlag string) (string, error) {
	r, found, err := catalog.ModuleRoot(path)
	if err != nil || found {
		return r, err
	}
	if c, err := filepath.Abs(catalogFlag); err == nil {
		if fi, err := os.Stat(c); err == nil && fi.IsDir() && (r == c || strings.HasPrefix(r, c+string(filepath.Separator))) {
			return c, nil
		}
	}
	r, err = catalog.FindRoot(path)
	if err != nil {
		return "", err
	}
	// An image folder (jq holding jq.cue) taken as a root would fail its
	// own file for lying at the root: the catalog is its parent.
	name := filepath.Base(r)
	if fi, err := os.Stat(filepath.Join(r, name+".cue")); err == nil && fi.Mode().IsRegular() {
		parent := filepath.Dir(r)
		return "", fmt.Errorf("%s looks like the folder of image %s (it holds %s.cue), not a catalog root, and no cue.mod at or above it marks one: "+
			"name the catalog with -C (hic -C %s vet %s), or mark its root with a cue.mod folder (%s)",
			path, name, name, relToWD(parent), name, filepath.Join(relToWD(parent), "cue.mod", "module.cue"))
	}
	return r, nil
}

// catalogFiles refuses a PATH that names none of the files the loader read
// from the catalog at root (a file in cue.mod/, a _draft.cue): vet would
// report "0 files: no errors" for it.
func catalogFiles(l *loaded, root string, paths []string, given map[string]string) error {
	for _, p := range paths {
		if p == root {
			continue
		}
		found := false
		for _, f := range l.catalog.Files {
			if abs := filepath.Join(root, f); abs == p || strings.HasPrefix(abs, p+string(filepath.Separator)) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		const why = "vet reads the .cue files the loader reads, not those in cue.mod/ or testdata/ or named .* or _*"
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return usageError("%s holds none of the files of catalog %s: %s", given[p], relToWD(root), why)
		}
		return usageError("%s is not one of the files of catalog %s: %s", given[p], relToWD(root), why)
	}
	return nil
}
