package universe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// WolfiOptions configures ImportWolfi.
type WolfiOptions struct {
	// Distro is the universe's distro name; default "wolfi".
	Distro string
	// URL is the APK repository the source builds into; default
	// https://packages.wolfi.dev/os.
	URL string
	// From is the source repository recorded on the @source line; default
	// https://github.com/wolfi-dev/os.
	From string
	// Removed adds the packages whose melange file was deleted before rev
	// as removed= entries (one git log over the history).
	Removed bool
}

// WolfiArchs are the architectures Wolfi builds for.
var WolfiArchs = []string{"aarch64", "x86_64"}

// ImportWolfi builds the universe of Wolfi from its melange sources: every
// top-level *.yaml of the git repository gitDir (a bare clone works) at rev,
// read with git itself. Each file gives a package and its subpackages
// (ranges over data items expanded, vars and var-transforms substituted),
// versioned VERSION-rEPOCH, with their runtime dependencies and declared
// provides.
//
// The source does not say everything an index does: so: provides and the
// cmd: provides melange derives from the files it packages are not in it.
// ImportWolfi infers cmd: provides from the bin paths the build pipelines
// write to (and go/build outputs); a package with inferred provides is marked
// unverified. With opts.Removed, packages whose file was deleted in the
// history (and not re-added) are kept as removed=DATE with their last version.
func ImportWolfi(ctx context.Context, gitDir, rev string, opts WolfiOptions) (*Universe, error) {
	if opts.Distro == "" {
		opts.Distro = "wolfi"
	}
	if opts.URL == "" {
		opts.URL = "https://packages.wolfi.dev/os"
	}
	if opts.From == "" {
		opts.From = "https://github.com/wolfi-dev/os"
	}
	g := gitRepo{dir: gitDir}
	commit, err := g.output(ctx, "rev-parse", "--verify", rev+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("wolfi source %s: revision %q: %w", gitDir, rev, err)
	}
	commit = strings.TrimSpace(commit)
	date, err := g.output(ctx, "log", "-1", "--format=%cs", commit)
	if err != nil {
		return nil, fmt.Errorf("wolfi source %s: %w", gitDir, err)
	}
	tree, err := g.output(ctx, "ls-tree", commit)
	if err != nil {
		return nil, fmt.Errorf("wolfi source %s: %w", gitDir, err)
	}
	var files, objects []string
	for _, line := range strings.Split(tree, "\n") {
		// <mode> SP <type> SP <object> TAB <file>
		meta, file, ok := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" || !strings.HasSuffix(file, ".yaml") || strings.HasPrefix(file, ".") {
			continue
		}
		files = append(files, file)
		objects = append(objects, f[2])
	}
	blobs, err := g.catFiles(ctx, objects)
	if err != nil {
		return nil, fmt.Errorf("wolfi source %s at %s: %w", gitDir, commit, err)
	}
	byName := map[string]*Package{}
	var problems []string
	for i, file := range files {
		pkgs, err := ParseMelange(blobs[i])
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", file, err))
			continue
		}
		for _, p := range pkgs {
			addPackage(byName, p)
		}
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("wolfi source %s at %s: no melange package files (%d unreadable: %s)", gitDir, commit, len(problems), strings.Join(firstN(problems, 3), "; "))
	}
	if opts.Removed {
		removed, err := g.removedPackages(ctx, commit, files)
		if err != nil {
			return nil, fmt.Errorf("wolfi source %s: history: %w", gitDir, err)
		}
		for _, p := range removed {
			if byName[p.Name] == nil {
				addPackage(byName, p)
			}
		}
	}
	u := &Universe{
		Distro: opts.Distro,
		Archs:  slices.Clone(WolfiArchs),
		Sources: []Source{{
			Name: SourceName(opts.URL), URL: opts.URL, From: opts.From, Commit: commit, Date: strings.TrimSpace(date),
		}},
	}
	for _, p := range byName {
		u.Packages = append(u.Packages, *p)
	}
	sort.Slice(u.Packages, func(i, j int) bool { return u.Packages[i].Name < u.Packages[j].Name })
	if err := validate(u); err != nil {
		return nil, fmt.Errorf("wolfi source %s at %s: %w", gitDir, commit, err)
	}
	return u, nil
}

func addPackage(byName map[string]*Package, p Package) {
	if prev := byName[p.Name]; prev != nil {
		// Two files (or a file and its history) name the same package:
		// keep the first facts, merge the versions.
		prev.Versions = SortVersions(append(prev.Versions, p.Versions...))
		return
	}
	cp := p
	byName[p.Name] = &cp
}

// melangeFile is the part of a melange build file the universe needs.
type melangeFile struct {
	Package struct {
		Name               string      `yaml:"name"`
		Version            string      `yaml:"version"`
		Epoch              int         `yaml:"epoch"`
		TargetArchitecture []string    `yaml:"target-architecture"`
		Dependencies       melangeDeps `yaml:"dependencies"`
	} `yaml:"package"`
	Vars          map[string]string `yaml:"vars"`
	VarTransforms []struct {
		From    string `yaml:"from"`
		Match   string `yaml:"match"`
		Replace string `yaml:"replace"`
		To      string `yaml:"to"`
	} `yaml:"var-transforms"`
	Data []struct {
		Name  string            `yaml:"name"`
		Items map[string]string `yaml:"items"`
	} `yaml:"data"`
	Pipeline    []melangeStep `yaml:"pipeline"`
	Subpackages []struct {
		Name         string        `yaml:"name"`
		Range        string        `yaml:"range"`
		Dependencies melangeDeps   `yaml:"dependencies"`
		Pipeline     []melangeStep `yaml:"pipeline"`
	} `yaml:"subpackages"`
}

type melangeDeps struct {
	Runtime  []string `yaml:"runtime"`
	Provides []string `yaml:"provides"`
}

type melangeStep struct {
	Uses     string            `yaml:"uses"`
	With     map[string]string `yaml:"with"`
	Runs     string            `yaml:"runs"`
	Pipeline []melangeStep     `yaml:"pipeline"`
}

// The build directories melange substitutes for ${{targets.*}}.
const (
	melangeOut = "/home/build/melange-out/"
)

var (
	melangeVar = regexp.MustCompile(`\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)
	// A bin path under a package's output directory: install, cp, mv, ln
	// targets in build scripts.
	binPath = regexp.MustCompile(`(destdir|contextdir|subpkgdir)\}\}["']?((?:/usr)?(?:/local)?/s?bin)/([A-Za-z0-9][A-Za-z0-9._+-]*)(["'\s;]|$)`)
	// A file moved, copied or installed into a bin directory named without
	// a file name ("mv build/bun ${{targets.destdir}}/usr/bin"): the
	// command is the source file's name.
	binDirTarget = regexp.MustCompile(`(?:^|[\s;&|])(?:mv|cp|install)(?:\s+-[A-Za-z0-9]+)*\s+["']?((?:\$\{\{targets\.destdir\}\})?[^\s"';$*{}]+)["']?\s+["']?\$\{\{targets\.(destdir|contextdir|subpkgdir)\}\}(?:/usr)?(?:/local)?/s?bin/?["']?(?:[\s;&|]|$)`)
)

// ParseMelange reads one melange build file and returns the packages it
// builds: the main package and its subpackages, ranges expanded.
func ParseMelange(data []byte) ([]Package, error) {
	var m melangeFile
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m.Package.Name == "" || m.Package.Version == "" {
		return nil, fmt.Errorf("no package.name or package.version")
	}
	version := m.Package.Version + "-r" + strconv.Itoa(m.Package.Epoch)
	vars := map[string]string{
		"package.name":         m.Package.Name,
		"package.version":      m.Package.Version,
		"package.epoch":        strconv.Itoa(m.Package.Epoch),
		"package.full-version": version,
		"targets.destdir":      melangeOut + m.Package.Name,
		"targets.outdir":       "/home/build/melange-out",
	}
	for k, v := range m.Vars {
		vars["vars."+k] = v
	}
	subst := func(s string, extra map[string]string) string {
		return melangeVar.ReplaceAllStringFunc(s, func(ref string) string {
			key := melangeVar.FindStringSubmatch(ref)[1]
			if v, ok := extra[key]; ok {
				return v
			}
			if v, ok := vars[key]; ok {
				return v
			}
			return ref
		})
	}
	for _, vt := range m.VarTransforms {
		re, err := regexp.Compile(vt.Match)
		if err != nil {
			return nil, fmt.Errorf("var-transforms %s: %w", vt.To, err)
		}
		vars["vars."+vt.To] = re.ReplaceAllString(subst(vt.From, nil), vt.Replace)
	}
	archs := archList(m.Package.TargetArchitecture)
	unverifiedVersion := strings.Contains(version, "${{")
	main := Package{Name: m.Package.Name, Versions: []string{version}, Archs: archs}
	ctx := map[string]string{"context.name": main.Name, "targets.contextdir": melangeOut + main.Name, "targets.subpkgdir": melangeOut + main.Name}
	main.Depends = substAll(m.Package.Dependencies.Runtime, subst, ctx)
	main.Provides = substAll(m.Package.Dependencies.Provides, subst, ctx)
	inferred := inferCommands(m.Pipeline, subst, ctx, false)
	main.Unverified = unverifiedVersion
	out := []Package{main}
	cmds := [][]string{inferred}
	// A command the main pipeline installs and a subpackage moves out of
	// the main package's directory is the subpackage's.
	moved := map[string]bool{}

	for _, sp := range m.Subpackages {
		items := []map[string]string{nil}
		if sp.Range != "" {
			items = nil
			for _, d := range m.Data {
				if d.Name != sp.Range {
					continue
				}
				keys := make([]string, 0, len(d.Items))
				for k := range d.Items {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					items = append(items, map[string]string{"range.key": k, "range.value": d.Items[k]})
				}
			}
		}
		for _, it := range items {
			name := subst(sp.Name, it)
			if name == "" || strings.Contains(name, "${{") {
				continue
			}
			ctx := map[string]string{"context.name": name, "targets.contextdir": melangeOut + name, "targets.subpkgdir": melangeOut + name}
			for k, v := range it {
				ctx[k] = v
			}
			p := Package{Name: name, Versions: []string{version}, Origin: main.Name, Archs: archs, Unverified: unverifiedVersion}
			p.Depends = substAll(sp.Dependencies.Runtime, subst, ctx)
			p.Provides = substAll(sp.Dependencies.Provides, subst, ctx)
			out = append(out, p)
			c := inferCommands(sp.Pipeline, subst, ctx, true)
			cmds = append(cmds, c)
			if takesFromMain(sp.Pipeline) {
				for _, x := range c {
					moved[x] = true
				}
			}
		}
	}
	for i := range out {
		c := cmds[i]
		if i == 0 {
			c = slices.DeleteFunc(c, func(x string) bool { return moved[x] })
		}
		for _, x := range c {
			pr := "cmd:" + x
			if !slices.ContainsFunc(out[i].Provides, func(p string) bool { return ProvideName(p) == pr }) {
				out[i].Provides = append(out[i].Provides, pr)
				out[i].Unverified = true
			}
		}
		out[i].Depends = cleanList(out[i].Depends)
		out[i].Provides = cleanList(out[i].Provides)
		if out[i].Origin == out[i].Name {
			out[i].Origin = ""
		}
	}
	return out, nil
}

// archList maps melange's target-architecture to universe archs; nil means
// every Wolfi arch.
func archList(ta []string) []string {
	if len(ta) == 0 || slices.Contains(ta, "all") {
		return nil
	}
	var out []string
	for _, a := range ta {
		switch a {
		case "amd64":
			a = "x86_64"
		case "arm64":
			a = "aarch64"
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	if slices.Equal(out, WolfiArchs) {
		return nil
	}
	return out
}

func substAll(list []string, subst func(string, map[string]string) string, ctx map[string]string) []string {
	var out []string
	for _, s := range list {
		out = append(out, subst(s, ctx))
	}
	return out
}

// cleanList drops entries the format cannot hold (unsubstituted references,
// spaces, commas) and duplicates, and sorts.
func cleanList(list []string) []string {
	var out []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsAny(s, " ,\t$") || strings.Contains(s, "{{") || slices.Contains(out, s) {
			continue
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// inferCommands lists the command names a pipeline installs into the
// package's own output directory's bin directories.
func inferCommands(steps []melangeStep, subst func(string, map[string]string) string, ctx map[string]string, sub bool) []string {
	// Keep the targets.* references so the regexp sees whose directory a
	// path is under; substitute everything else.
	keep := map[string]string{}
	for k, v := range ctx {
		keep[k] = v
	}
	for _, k := range []string{"destdir", "contextdir", "subpkgdir"} {
		keep["targets."+k] = "${{targets." + k + "}}"
	}
	var out []string
	var walk func([]melangeStep)
	walk = func(steps []melangeStep) {
		for _, s := range steps {
			if s.Runs != "" {
				runs := subst(s.Runs, keep)
				for _, m := range binPath.FindAllStringSubmatch(runs, -1) {
					// A subpackage's own files are under subpkgdir or
					// contextdir; destdir is where it takes them from.
					if (m[1] == "destdir") != sub {
						out = append(out, m[3])
					}
				}
				for _, m := range binDirTarget.FindAllStringSubmatch(runs, -1) {
					name := path.Base(m[1])
					// Moving a directory of the package itself
					// (mv .../usr/sbin .../usr/bin) installs no command.
					within := strings.HasPrefix(m[1], "${{targets.destdir}}") && m[2] == "destdir"
					if (m[2] == "destdir") != sub && !within && name != "bin" && name != "sbin" {
						out = append(out, name)
					}
				}
			}
			if s.Uses == "go/build" {
				// go/build installs each output into PREFIX/INSTALL-DIR
				// (usr/bin by default).
				dir := strings.Trim(subst(s.With["install-dir"], ctx), "/")
				if dir == "" || dir == "bin" || dir == "sbin" {
					for _, o := range strings.Fields(strings.ReplaceAll(subst(s.With["output"], ctx), ",", " ")) {
						o = path.Base(o)
						if o != "" && !strings.ContainsAny(o, "${}") {
							out = append(out, o)
						}
					}
				}
			}
			walk(s.Pipeline)
		}
	}
	walk(steps)
	return cleanList(out)
}

// takesFromMain reports whether a subpackage pipeline moves files out of
// the main package's directory (rather than building its own).
func takesFromMain(steps []melangeStep) bool {
	for _, s := range steps {
		if strings.Contains(s.Runs, "targets.destdir") || takesFromMain(s.Pipeline) {
			return true
		}
	}
	return false
}

// gitRepo runs git on a repository directory (a bare clone is enough).
type gitRepo struct{ dir string }

func (g gitRepo) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir", g.dir}, args...)...)
	cmd.Env = append(cmd.Environ(), "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C")
	return cmd
}

func (g gitRepo) output(ctx context.Context, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := g.command(ctx, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// catFiles reads objects (ids or REV:PATH names) with one git cat-file
// --batch; a missing object reads as nil.
func (g gitRepo) catFiles(ctx context.Context, objects []string) ([][]byte, error) {
	cmd := g.command(ctx, "cat-file", "--batch")
	cmd.Stdin = strings.NewReader(strings.Join(objects, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(stdout, 1<<20)
	out := make([][]byte, len(objects))
	var readErr error
	for i := range objects {
		head, err := r.ReadString('\n')
		if err != nil {
			readErr = fmt.Errorf("git cat-file: %v", err)
			break
		}
		f := strings.Fields(head)
		if len(f) == 2 && f[1] == "missing" {
			continue
		}
		if len(f) != 3 {
			readErr = fmt.Errorf("git cat-file: unexpected header %q", strings.TrimSpace(head))
			break
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			readErr = fmt.Errorf("git cat-file: header %q: %v", strings.TrimSpace(head), err)
			break
		}
		b := make([]byte, n+1) // content and its newline
		if _, err := io.ReadFull(r, b); err != nil {
			readErr = fmt.Errorf("git cat-file: %v", err)
			break
		}
		out[i] = b[:n]
	}
	if readErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, readErr
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git cat-file: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// removedPackages lists the packages of top-level melange files deleted
// before commit (and not present at it), each with the last version its
// file had and removed= the day of the deletion.
func (g gitRepo) removedPackages(ctx context.Context, commit string, present []string) ([]Package, error) {
	log, err := g.output(ctx, "log", "--diff-filter=D", "--no-renames", "--name-only", "--format=@%H %cs", commit, "--", ":(glob)*.yaml")
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range present {
		have[f] = true
	}
	type deletion struct{ commit, date string }
	seen := map[string]deletion{} // newest deletion first in git log
	var order []string
	var cur deletion
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.HasPrefix(line, "@"):
			h, d, _ := strings.Cut(line[1:], " ")
			cur = deletion{h, d}
		case line == "" || strings.Contains(line, "/") || strings.HasPrefix(line, "."):
		default:
			if have[line] {
				continue
			}
			if _, ok := seen[line]; !ok {
				seen[line] = cur
				order = append(order, line)
			}
		}
	}
	objects := make([]string, len(order))
	for i, f := range order {
		objects[i] = seen[f].commit + "^:" + f
	}
	blobs, err := g.catFiles(ctx, objects)
	if err != nil {
		return nil, err
	}
	var out []Package
	for i, f := range order {
		if blobs[i] == nil {
			continue
		}
		pkgs, err := ParseMelange(blobs[i])
		if err != nil {
			continue // an old file this reader cannot parse: skip, it is history
		}
		for _, p := range pkgs {
			p.Removed = seen[f].date
			out = append(out, p)
		}
	}
	return out, nil
}
