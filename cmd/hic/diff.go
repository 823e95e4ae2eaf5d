package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/diff"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/compiler/vex"
	"github.com/hic-build/hic/schema"
)

// worktree names the files on disk as the head of a diff.
const worktree = "worktree"

type diffOptions struct {
	base     string
	head     string
	format   string
	exitCode bool
}

const diffLong = `Diff shows what a change does to the compiled images: the specs added,
removed and changed, and for each changed spec the changed fields of its
compiled form (packages added, removed or at another version, tags,
entrypoint, user, ports, env, paths, exceptions, annotations, ...).

  hic diff --base REV [--head REV|worktree] [REF...]
      compiles the catalog as it is at git revision REV and as it is at the
      head (default: the files on disk, committed or not) and compares them.
      The revisions are read with git, never checked out. REF... narrows
      both sides. Hardening findings do not stop a diff (hic vet judges
      them); a side that does not load does.
  hic diff DIR_A DIR_B
      compares two directories written by hic compile --out, or the
      compiled/ of two hic build --out directories; there the locks also
      show the packages the images really hold (installed.ARCH).

With --base the advisories (advisories/*.cue) of the two sides are compared
too: the changed ones are listed, and for each spec the OpenVEX statements
its signed document would hold that change (field vex: an advisory added or
removed about a package it installs, or its status for the installed
version, its justification, action or dates changed). The packages an image
installs are the ones its spec names and, where the distro has a package
universe, their dependencies; a status that depends on an unpinned
package's version says so.

--format markdown writes a pull-request comment. Exit status 0 whatever
changed, 1 with --exit-code when anything changed, 2 for usage errors and
catalogs that do not load. Both sides are compiled with this hic's schema.`

func newDiffCmd(root *rootOptions) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff --base REV [--head REV|worktree] [REF...] | diff DIR_A DIR_B",
		Short: "Show what a change does to the compiled images",
		Long:  diffLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.format, formatText, formatJSON, "markdown"); err != nil {
				return usageError("%v", err)
			}
			var base, head map[string]compile.Image
			var baseLocks, headLocks map[string]diff.Installed
			var baseVEX, headVEX *diff.VEXSide
			var err error
			if o.base == "" {
				if cmd.Flags().Changed("head") {
					return usageError("--head needs --base")
				}
				if len(args) != 2 {
					return usageError("name two compiled directories (hic diff DIR_A DIR_B) or a git revision (--base REV)")
				}
				if base, baseLocks, err = readCompiledDir(args[0]); err != nil {
					return err
				}
				if head, headLocks, err = readCompiledDir(args[1]); err != nil {
					return err
				}
			} else if base, head, baseVEX, headVEX, err = compileRevisions(cmd, root, o.base, o.head, args); err != nil {
				return err
			}
			d, err := diff.Compare(base, head)
			if err != nil {
				return err
			}
			d.AddInstalled(baseLocks, headLocks)
			if baseVEX != nil {
				if err := d.AddVEX(*baseVEX, *headVEX); err != nil {
					return err
				}
				if len(args) > 0 {
					d.NarrowAdvisories(*baseVEX, *headVEX)
				}
			}
			w := cmd.OutOrStdout()
			switch o.format {
			case "json":
				err = d.WriteJSON(w)
			case "markdown":
				err = d.WriteMarkdown(w, 0)
			default:
				err = d.WriteText(w)
			}
			if err != nil {
				return err
			}
			if o.exitCode && !d.Empty() {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.base, "base", "", "git revision to compare from (e.g. origin/main)")
	f.StringVar(&o.head, "head", worktree, "git revision to compare to, or worktree for the files on disk")
	f.StringVarP(&o.format, "format", "o", "text", "output format: text, json or markdown")
	f.BoolVar(&o.exitCode, "exit-code", false, "exit 1 when anything changed")
	return cmd
}

// readCompiledDir reads the compiled specs (*.json) of a directory written
// by hic compile --out, by ref, and the locks (*.lock.json) hic build writes
// next to them, of the specs the directory holds. Given the output directory
// of hic build, it reads its compiled/.
func readCompiledDir(dir string) (map[string]compile.Image, map[string]diff.Installed, error) {
	if fi, err := os.Stat(filepath.Join(dir, "compiled")); err == nil && fi.IsDir() {
		dir = filepath.Join(dir, "compiled")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, usageError("%w", err)
	}
	images := map[string]compile.Image{}
	locks := map[string]diff.Installed{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, usageError("%w", err)
		}
		if strings.HasSuffix(name, ".lock.json") {
			var lock struct {
				Ref   string `json:"ref"`
				Archs map[string][]struct {
					Name    string `json:"name"`
					Version string `json:"version"`
				} `json:"archs"`
			}
			if err := json.Unmarshal(b, &lock); err != nil || lock.Ref == "" {
				return nil, nil, usageError("%s: not a lock written by hic build", p)
			}
			in := diff.Installed{}
			for arch, pkgs := range lock.Archs {
				in[arch] = map[string]string{}
				for _, pkg := range pkgs {
					in[arch][pkg.Name] = pkg.Version
				}
			}
			locks[lock.Ref] = in
			continue
		}
		var img compile.Image
		if err := json.Unmarshal(b, &img); err != nil {
			return nil, nil, usageError("%s: not a compiled spec: %w", p, err)
		}
		if img.Ref == "" {
			return nil, nil, usageError("%s: not a compiled spec: no ref", p)
		}
		if _, dup := images[img.Ref]; dup {
			return nil, nil, usageError("%s: %s compiled twice in %s", p, img.Ref, dir)
		}
		images[img.Ref] = img
	}
	for ref := range locks {
		if _, ok := images[ref]; !ok {
			delete(locks, ref)
		}
	}
	return images, locks, nil
}

// side is a catalog as one side of a diff: its specs, its advisories and
// its package universes, which say what each image installs.
type side struct {
	specs      []*spec.Spec
	advisories *vex.Advisories
	universes  map[string]*universe.Universe
}

// compileRevisions loads and compiles the catalog at two revisions (the head
// may be the worktree) and narrows both to refs. The VEX sides are what
// each side's OpenVEX statements are made from: its advisories, and the
// packages each compiled spec installs by the side's universe.
func compileRevisions(cmd *cobra.Command, root *rootOptions, baseRev, headRev string, refs []string) (base, head map[string]compile.Image, baseVEX, headVEX *diff.VEXSide, err error) {
	ctx := cmd.Context()
	dir, err := catalog.FindRoot(root.catalog)
	if err != nil {
		return nil, nil, nil, nil, usageError("%w", err)
	}
	tables, err := schema.LoadTables()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	at := func(rev string, stderr io.Writer) (*side, error) {
		catDir := dir
		if rev != worktree {
			tmp, err := os.MkdirTemp("", "hic-diff-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(tmp)
			if err := extractRevision(ctx, dir, rev, tmp); err != nil {
				return nil, err
			}
			catDir = tmp
		} else {
			rev = ""
		}
		specs, err := loadSpecs(ctx, stderr, catDir, rev)
		if err != nil {
			return nil, err
		}
		adv, fs, err := vex.Load(ctx, catDir)
		if err != nil {
			return nil, err
		}
		if len(fs) > 0 {
			return nil, loadFailed(stderr, catDir, rev, fs)
		}
		// The universes only add the dependencies to the packages whose
		// advisories count: one that does not read leaves them out.
		us, err := universe.ReadCatalog(catDir, tables.Distros)
		if err != nil {
			where := "the worktree"
			if rev != "" {
				where = rev
			}
			fmt.Fprintf(stderr, "hic diff: %s: package universe not read (%v): the OpenVEX statements shown are of the packages the specs name\n", where, err)
			us = nil
		}
		return &side{specs, adv, us}, nil
	}
	// The two sides load side by side; what they print waits for both.
	var bside, hside *side
	var bErr, hErr bytes.Buffer
	var g errgroup.Group
	g.Go(func() (err error) { bside, err = at(baseRev, &bErr); return err })
	g.Go(func() (err error) { hside, err = at(headRev, &hErr); return err })
	err = g.Wait()
	for _, b := range []*bytes.Buffer{&bErr, &hErr} {
		if _, werr := b.WriteTo(cmd.ErrOrStderr()); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	bs, hs := bside.specs, hside.specs
	if len(refs) > 0 {
		b, errB := spec.Select(bs, refs, tables.Distros, tables.Variants)
		h, errH := spec.Select(hs, refs, tables.Distros, tables.Variants)
		if errB != nil && errH != nil {
			// A ref may name specs on one side only (added or removed),
			// but it must name some somewhere.
			var missing []string
			for _, r := range refs {
				_, e1 := spec.Select(bs, []string{r}, tables.Distros, tables.Variants)
				_, e2 := spec.Select(hs, []string{r}, tables.Distros, tables.Variants)
				if e1 != nil && e2 != nil {
					missing = append(missing, e1.Error())
				}
			}
			if len(missing) > 0 {
				return nil, nil, nil, nil, usageError("%s (on either side)", strings.Join(missing, "; "))
			}
		}
		bs, hs = b, h
	}
	if base, err = compileByRef(bs); err != nil {
		return nil, nil, nil, nil, err
	}
	if head, err = compileByRef(hs); err != nil {
		return nil, nil, nil, nil, err
	}
	vexSide := func(s *side, imgs map[string]compile.Image) *diff.VEXSide {
		v := &diff.VEXSide{Advisories: s.advisories, Packages: map[string]map[string]string{}}
		for ref, img := range imgs {
			v.Packages[ref] = diff.ImagePackages(img, s.universes[img.Metadata.Distro])
		}
		return v
	}
	return base, head, vexSide(bside, base), vexSide(hside, head), nil
}

// loadSpecs loads the catalog at dir; rev, when set, names the revision it
// was read from. Syntax and schema errors are printed and fail the load.
func loadSpecs(ctx context.Context, stderr io.Writer, dir, rev string) ([]*spec.Spec, error) {
	cat, err := load.Load(ctx, dir, load.Options{})
	if err != nil {
		return nil, usageError("%w", err)
	}
	if len(cat.Findings) == 0 {
		return cat.Specs, nil
	}
	return nil, loadFailed(stderr, dir, rev, cat.Findings)
}

// loadFailed prints the findings that stop the catalog at dir (read from
// rev, when set) from loading, and returns the error that says so.
func loadFailed(stderr io.Writer, dir, rev string, fs []finding.Finding) error {
	for _, f := range fs {
		pos := f.Pos
		if rev == "" {
			pos = displayPos(dir, pos)
		}
		prefix := ""
		if rev != "" {
			prefix = rev + ":"
		}
		fmt.Fprintf(stderr, "%s%s: %s: %s\n", prefix, pos, f.Rule, f.Message)
	}
	where := "in the worktree"
	if rev != "" {
		where = "at " + rev
	}
	return usageError("the catalog %s does not load (%s)", where, count(len(fs), "error"))
}

// compileByRef compiles specs into a map by ref; of two specs with one ref
// (which vet reports), the first is kept.
func compileByRef(specs []*spec.Spec) (map[string]compile.Image, error) {
	out := make(map[string]compile.Image, len(specs))
	for _, s := range specs {
		if _, dup := out[s.Ref]; dup {
			continue
		}
		img, err := compile.Compile(s)
		if err != nil {
			return nil, err
		}
		out[s.Ref] = img
	}
	return out, nil
}

// extractRevision writes the CUE files and the package universes of the
// catalog at dir, as they are at git revision rev, below dest: read with git ls-tree and git cat-file,
// without touching the work tree or the index.
func extractRevision(ctx context.Context, dir, rev, dest string) error {
	git := func(stdin io.Reader, args ...string) ([]byte, error) {
		c := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		c.Stdin = stdin
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	prefix, err := git(nil, "rev-parse", "--show-prefix")
	if err != nil {
		return usageError("%s is not in a git repository: %w", dir, err)
	}
	commit, err := git(nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return usageError("--base/--head %q: not a git revision", rev)
	}
	pfx := strings.TrimSpace(string(prefix))
	args := []string{"ls-tree", "-r", "-z", "--full-tree", strings.TrimSpace(string(commit))}
	if pfx != "" {
		args = append(args, "--", pfx)
	}
	list, err := git(nil, args...)
	if err != nil {
		return err
	}
	var oids, paths []string
	for _, ent := range bytes.Split(list, []byte{0}) {
		meta, path, ok := strings.Cut(string(ent), "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || fields[1] != "blob" || fields[0] == "120000" {
			continue
		}
		rel, ok := strings.CutPrefix(path, pfx)
		if !ok || !strings.HasSuffix(rel, ".cue") && !(strings.HasPrefix(rel, universe.DirName+"/") && strings.HasSuffix(rel, ".txt")) {
			continue
		}
		oids = append(oids, fields[2])
		paths = append(paths, rel)
	}
	if len(oids) == 0 {
		return nil
	}
	out, err := git(strings.NewReader(strings.Join(oids, "\n")+"\n"), "cat-file", "--batch")
	if err != nil {
		return err
	}
	r := bufio.NewReader(bytes.NewReader(out))
	for i, rel := range paths {
		header, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("git cat-file: %s: %w", rel, err)
		}
		f := strings.Fields(header)
		if len(f) != 3 {
			return fmt.Errorf("git cat-file: %s: unexpected %q", rel, strings.TrimSpace(header))
		}
		size, err := strconv.Atoi(f[2])
		if err != nil || f[0] != oids[i] {
			return fmt.Errorf("git cat-file: %s: unexpected %q", rel, strings.TrimSpace(header))
		}
		body := make([]byte, size+1) // the contents and a newline
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("git cat-file: %s: %w", rel, err)
		}
		p := filepath.Join(dest, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, body[:size], 0o644); err != nil {
			return err
		}
	}
	return nil
}
