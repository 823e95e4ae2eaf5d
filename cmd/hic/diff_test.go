package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/diff"
)

// dfGit runs git in dir with no user or system configuration.
func dfGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	c := exec.CommandContext(t.Context(), "git", args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=hic", "GIT_AUTHOR_EMAIL=hic@example.test", "GIT_COMMITTER_NAME=hic", "GIT_COMMITTER_EMAIL=hic@example.test")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// dfEdit replaces old by new in the file at path, which must contain it.
func dfEdit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dfSummary is what a test checks of a diff: the refs, and the changes of
// one spec.
type dfSummary struct {
	Added, Removed, Changed []string
	Alpha2                  []diff.Change // changes of alpha:2-wolfi-runtime
}

func dfSummarize(t *testing.T, out string) dfSummary {
	t.Helper()
	var d diff.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("diff -o json: %v\n%s", err, out)
	}
	s := dfSummary{Added: d.Added, Removed: d.Removed, Changed: []string{}}
	for _, c := range d.Changed {
		s.Changed = append(s.Changed, c.Ref)
		if c.Ref == "alpha:2-wolfi-runtime" {
			s.Alpha2 = c.Changes
		}
	}
	return s
}

// TestDiffAdvisories (review D1 §2): a change of the advisories alone
// leaves every compiled form as it was, but changes the OpenVEX statements
// of the images installing their packages: hic diff --base shows them per
// spec (a status the installed version decides, an advisory added), lists
// the changed advisories, and --exit-code says something changed.
func TestDiffAdvisories(t *testing.T) {
	repo := t.TempDir()
	cat := filepath.Join(repo, "catalog")
	if err := os.CopyFS(cat, os.DirFS(shCatalog)); err != nil {
		t.Fatal(err)
	}
	adv := filepath.Join(cat, "advisories", "alpha.cue")
	if err := os.MkdirAll(filepath.Dir(adv), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(adv, []byte(`package hic

advisories: alpha: [{
	id:        "CVE-2026-0001"
	status:    "fixed"
	fixed:     "2.0.0-r0"
	published: "2026-03-01"
}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	dfGit(t, repo, "init", "-q")
	dfGit(t, repo, "add", ".")
	dfGit(t, repo, "commit", "-q", "-m", "one")
	hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD", "--exit-code").must(t, 0)

	// The fix is later than alpha 2.1.0 thought; pcre2, which every alpha
	// spec installs, gets an advisory.
	dfEdit(t, adv, `"2.0.0-r0"`, `"2.2.0-r0"`)
	if err := os.WriteFile(filepath.Join(cat, "advisories", "pcre2.cue"), []byte(`package hic

advisories: pcre2: [{
	id:        "CVE-2026-0002"
	status:    "affected"
	action:    "upgrade when 10.46 lands"
	published: "2026-03-02"
}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD", "-o", "json").must(t, 0).Stdout
	var d diff.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("diff -o json: %v\n%s", err, out)
	}
	var changed []string
	byRef := map[string][]diff.Change{}
	for _, c := range d.Changed {
		changed = append(changed, c.Ref)
		byRef[c.Ref] = c.Changes
	}
	alphas := []string{
		"alpha:1-alpine-3.23-dev", "alpha:1-alpine-3.23-runtime", "alpha:1-wolfi-dev", "alpha:1-wolfi-runtime",
		"alpha:2-alpine-3.23-dev", "alpha:2-alpine-3.23-runtime", "alpha:2-wolfi-dev", "alpha:2-wolfi-runtime",
	}
	if diff := cmp.Diff(alphas, changed); diff != "" {
		t.Errorf("changed specs (-want +got):\n%s", diff)
	}
	pcre2 := diff.Change{Field: "vex", Key: "CVE-2026-0002 pcre2", Kind: diff.Added, New: "CVE-2026-0002 pcre2: affected: upgrade when 10.46 lands; published 2026-03-02"}
	for ref, want := range map[string][]diff.Change{
		// 2.1.0-r0 was past the fix, and is before it now.
		"alpha:2-wolfi-runtime": {{Field: "vex", Key: "CVE-2026-0001 alpha", Kind: diff.Changed,
			Old: "CVE-2026-0001 alpha: fixed in 2.0.0-r0; published 2026-03-01",
			New: "CVE-2026-0001 alpha: affected: upgrade alpha to 2.2.0-r0 or later; published 2026-03-01"}, pcre2},
		// 1.9.4-r1 was before the fix, and still is: the action changes.
		"alpha:1-wolfi-runtime": {{Field: "vex", Key: "CVE-2026-0001 alpha", Kind: diff.Changed,
			Old: "CVE-2026-0001 alpha: affected: upgrade alpha to 2.0.0-r0 or later; published 2026-03-01",
			New: "CVE-2026-0001 alpha: affected: upgrade alpha to 2.2.0-r0 or later; published 2026-03-01"}, pcre2},
	} {
		if diff := cmp.Diff(want, byRef[ref]); diff != "" {
			t.Errorf("%s: changes (-want +got):\n%s", ref, diff)
		}
	}
	wantAdv := []diff.Change{
		{Field: "advisories", Key: "alpha CVE-2026-0001", Kind: diff.Changed,
			Old: "alpha CVE-2026-0001: fixed in 2.0.0-r0; published 2026-03-01", New: "alpha CVE-2026-0001: fixed in 2.2.0-r0; published 2026-03-01"},
		{Field: "advisories", Key: "pcre2 CVE-2026-0002", Kind: diff.Added, New: "pcre2 CVE-2026-0002: affected: upgrade when 10.46 lands; published 2026-03-02"},
	}
	if diff := cmp.Diff(wantAdv, d.Advisories); diff != "" {
		t.Errorf("advisories (-want +got):\n%s", diff)
	}
	text := hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD").must(t, 0).Stdout
	for _, want := range []string{"; 2 advisories changed\n", "    + vex: CVE-2026-0002 pcre2: affected: upgrade when 10.46 lands; published 2026-03-02\n",
		"    + advisories: pcre2 CVE-2026-0002: affected"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD", "--exit-code").must(t, 1)
	// A narrowed diff shows the statements of the specs it names only, and
	// the advisories about their packages.
	out = hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD", "beta", "-o", "json", "--exit-code").must(t, 0).Stdout
	if strings.Contains(out, `"vex"`) || strings.Contains(out, `"advisories"`) {
		t.Errorf("beta installs neither alpha nor pcre2, yet its diff shows them:\n%s", out)
	}
	out = hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD", "alpha:2-wolfi-runtime", "-o", "json", "--exit-code").must(t, 1).Stdout
	var narrowed diff.Diff
	if err := json.Unmarshal([]byte(out), &narrowed); err != nil || len(narrowed.Changed) != 1 || len(narrowed.Advisories) != 2 {
		t.Errorf("narrowed to alpha:2-wolfi-runtime: want it changed and both advisories (%v):\n%s", err, out)
	}
}

func TestDiffCmd(t *testing.T) {
	repo := t.TempDir()
	cat := filepath.Join(repo, "catalog")
	if err := os.CopyFS(cat, os.DirFS(shCatalog)); err != nil {
		t.Fatal(err)
	}
	compileTo := func(dir string) {
		t.Helper()
		hicCLI(t, nil, "-C", cat, "compile", "--all", "--today", shToday, "--out", dir).must(t, 0)
	}
	// Commit 1: the catalog as it is. Commit 2: alpha 2 bumped, a port for
	// every alpha spec, gamma 0.8 replaced by 0.10. Commit 3: beta broken.
	dfGit(t, repo, "init", "-q")
	dfGit(t, repo, "add", ".")
	dfGit(t, repo, "commit", "-q", "-m", "one")
	dirA := filepath.Join(t.TempDir(), "compiled")
	compileTo(dirA)
	alpha, gamma, beta := filepath.Join(cat, "alpha", "alpha.cue"), filepath.Join(cat, "gamma", "gamma.cue"), filepath.Join(cat, "beta", "beta.cue")
	dfEdit(t, alpha, `"2": {version: "2.1.0-r0"`, `"2": {version: "2.2.0-r0"`)
	dfEdit(t, alpha, `ports: ["8080/tcp"]`, `ports: ["8080/tcp", "9090/tcp"]`)
	dfEdit(t, gamma, `"0.8": {version: "0.8.7-r4", released: "2025-10-10"}`, `"0.10": {version: "0.10.1-r0", released: "2026-03-10"}`)
	dirB := filepath.Join(t.TempDir(), "compiled")
	compileTo(dirB)
	dfGit(t, repo, "commit", "-q", "-a", "-m", "two")
	good, err := os.ReadFile(beta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(beta, append(good, []byte("\nimages: beta: {\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	dfGit(t, repo, "commit", "-q", "-a", "-m", "three")
	// The worktree holds commit 2 again: beta fixed, not committed.
	if err := os.WriteFile(beta, good, 0o644); err != nil {
		t.Fatal(err)
	}
	// The compiled directory of a build also holds locks: what the images
	// really hold. alpha:2-wolfi-runtime gets a newer zlib, beta (whose
	// compiled form did not change) a newer busybox; a lock of a spec not
	// compiled there is ignored.
	lock := func(dir, ref string, pkgs ...string) {
		t.Helper()
		var b strings.Builder
		fmt.Fprintf(&b, `{"ref": %q, "archs": {"x86_64": [`, ref)
		for i, p := range pkgs {
			name, v, _ := strings.Cut(p, "=")
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"name": %q, "version": %q, "arch": "x86_64"}`, name, v)
		}
		b.WriteString("]}}")
		if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(compile.FileName(ref), ".json")+".lock.json"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lock(dirA, "alpha:2-wolfi-runtime", "alpha=2.1.0-r0", "zlib=1.3-r0")
	lock(dirB, "alpha:2-wolfi-runtime", "alpha=2.2.0-r0", "zlib=1.3.1-r0")
	lock(dirA, "beta:3.1-wolfi-runtime", "busybox=1.36-r0")
	lock(dirB, "beta:3.1-wolfi-runtime", "busybox=1.37-r0")
	lock(dirA, "zeta:1-wolfi-runtime", "busybox=1.36-r0")
	lock(dirB, "zeta:1-wolfi-runtime", "busybox=1.37-r0")

	gammas := func(stream string) []string {
		return []string{"gamma:" + stream + "-alpine-3.23-dev", "gamma:" + stream + "-alpine-3.23-runtime", "gamma:" + stream + "-wolfi-dev", "gamma:" + stream + "-wolfi-runtime"}
	}
	alphas := []string{
		"alpha:1-alpine-3.23-dev", "alpha:1-alpine-3.23-runtime", "alpha:1-wolfi-dev", "alpha:1-wolfi-runtime",
		"alpha:2-alpine-3.23-dev", "alpha:2-alpine-3.23-runtime", "alpha:2-wolfi-dev", "alpha:2-wolfi-runtime",
	}
	alpha2 := []diff.Change{
		{Field: "packages", Key: "alpha", Kind: diff.Changed, Old: "alpha=2.1.0-r0", New: "alpha=2.2.0-r0"},
		{Field: "tags", Key: "2.1.0", Kind: diff.Removed, Old: "2.1.0"},
		{Field: "tags", Key: "2.2.0", Kind: diff.Added, New: "2.2.0"},
		{Field: "ports", Key: "9090/tcp", Kind: diff.Added, New: "9090/tcp"},
		{Field: "annotations", Key: "org.opencontainers.image.version", Kind: diff.Changed, Old: "org.opencontainers.image.version=2.1.0", New: "org.opencontainers.image.version=2.2.0"},
		{Field: "metadata.mainPackage", Kind: diff.Changed, Old: "alpha=2.1.0-r0", New: "alpha=2.2.0-r0"},
		{Field: "metadata.version", Kind: diff.Changed, Old: "2.1.0", New: "2.2.0"},
	}
	whole := dfSummary{Added: gammas("0.10"), Removed: gammas("0.8"), Changed: alphas, Alpha2: alpha2}
	withLocks := whole
	withLocks.Changed = append(slices.Clone(alphas), "beta:3.1-wolfi-runtime")
	withLocks.Alpha2 = append(slices.Clone(alpha2),
		diff.Change{Field: "installed.x86_64", Key: "alpha", Kind: diff.Changed, Old: "alpha=2.1.0-r0", New: "alpha=2.2.0-r0"},
		diff.Change{Field: "installed.x86_64", Key: "zlib", Kind: diff.Changed, Old: "zlib=1.3-r0", New: "zlib=1.3.1-r0"})
	none := dfSummary{Added: []string{}, Removed: []string{}, Changed: []string{}}

	tests := []struct {
		name string
		args []string
		want dfSummary
	}{
		{"two revisions", []string{"--base", "HEAD~2", "--head", "HEAD~1"}, whole},
		{"a revision and the worktree", []string{"--base", "HEAD~2"}, whole},
		{"the worktree by name", []string{"--base", "HEAD~2", "--head", "worktree"}, whole},
		{"two compiled directories", []string{dirA, dirB}, withLocks},
		{"two build output directories", []string{filepath.Dir(dirA), filepath.Dir(dirB)}, withLocks},
		{"backwards", []string{"--base", "HEAD~1", "--head", "HEAD~2"}, dfSummary{Added: gammas("0.8"), Removed: gammas("0.10"), Changed: alphas, Alpha2: []diff.Change{
			{Field: "packages", Key: "alpha", Kind: diff.Changed, Old: "alpha=2.2.0-r0", New: "alpha=2.1.0-r0"},
			{Field: "tags", Key: "2.2.0", Kind: diff.Removed, Old: "2.2.0"},
			{Field: "tags", Key: "2.1.0", Kind: diff.Added, New: "2.1.0"},
			{Field: "ports", Key: "9090/tcp", Kind: diff.Removed, Old: "9090/tcp"},
			{Field: "annotations", Key: "org.opencontainers.image.version", Kind: diff.Changed, Old: "org.opencontainers.image.version=2.2.0", New: "org.opencontainers.image.version=2.1.0"},
			{Field: "metadata.mainPackage", Kind: diff.Changed, Old: "alpha=2.2.0-r0", New: "alpha=2.1.0-r0"},
			{Field: "metadata.version", Kind: diff.Changed, Old: "2.2.0", New: "2.1.0"},
		}}},
		{"narrowed to an image", []string{"--base", "HEAD~2", "--head", "HEAD~1", "gamma"}, dfSummary{Added: gammas("0.10"), Removed: gammas("0.8"), Changed: []string{}}},
		{"a ref only in the head", []string{"--base", "HEAD~2", "gamma:0.10"}, dfSummary{Added: gammas("0.10"), Removed: []string{}, Changed: []string{}}},
		{"a ref only in the base", []string{"--base", "HEAD~2", "gamma:0.8-wolfi"}, dfSummary{Added: []string{}, Removed: gammas("0.8")[2:], Changed: []string{}}},
		{"no change", []string{"--base", "HEAD~1", "beta", "--exit-code"}, none},
		{"the same directory", []string{dirB, dirB, "--exit-code"}, none},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := hicCLI(t, nil, append([]string{"-C", cat, "diff", "-o", "json"}, tc.args...)...).must(t, 0).Stdout
			if diff := cmp.Diff(tc.want, dfSummarize(t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("exit code", func(t *testing.T) {
		hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD~2").must(t, 0)
		hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD~2", "--exit-code").must(t, 1)
		hicCLI(t, nil, "-C", cat, "diff", dirA, dirB, "--exit-code").must(t, 1)
	})

	t.Run("text and markdown", func(t *testing.T) {
		text := hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD~2", "--head", "HEAD~1").must(t, 0).Stdout
		md := hicCLI(t, nil, "-C", cat, "diff", "--base", "HEAD~2", "--head", "HEAD~1", "--format", "markdown").must(t, 0).Stdout
		for _, c := range []struct{ out, want string }{
			{text, "compiled specs: 4 added, 4 removed, 8 changed, 12 unchanged\n"},
			{text, "\n~ alpha:2-wolfi-runtime\n    - packages: alpha=2.1.0-r0\n    + packages: alpha=2.2.0-r0\n    - tags: 2.1.0\n    + tags: 2.2.0\n    + ports: 9090/tcp\n"},
			{text, "\nadded:\n  + gamma:0.10-alpine-3.23-dev\n"},
			{md, "### hic diff: 4 added, 4 removed, 8 changed, 12 unchanged\n"},
			{md, "<details><summary><code>alpha:1-alpine-3.23-dev</code>, <code>alpha:1-alpine-3.23-runtime</code>, <code>alpha:1-wolfi-dev</code>, <code>alpha:1-wolfi-runtime</code>: ports</summary>\n\n```diff\n+ ports: 9090/tcp\n```\n"},
		} {
			if !strings.Contains(c.out, c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, c.out)
			}
		}
	})

	brokenLock := t.TempDir()
	errs := []struct {
		name string
		args []string
		want string
	}{
		{"a base that does not load", []string{"--base", "HEAD", "--head", "HEAD~1"}, "HEAD:beta/beta.cue"},
		{"not a revision", []string{"--base", "no-such-branch"}, `"no-such-branch": not a git revision`},
		{"a ref on neither side", []string{"--base", "HEAD~2", "delta"}, "no spec matches delta"},
		{"a malformed ref", []string{"--base", "HEAD~2", "alpha:"}, "empty stream"},
		{"head without base", []string{"--head", "HEAD"}, "--head needs --base"},
		{"one directory", []string{dirA}, "name two compiled directories"},
		{"a missing directory", []string{dirA, filepath.Join(repo, "none")}, "no such file or directory"},
		{"a directory of other JSON", []string{dirA, filepath.Join(cat, "..")}, "not a compiled spec"},
		{"a broken lock", []string{dirA, brokenLock}, "not a lock written by hic build"},
		{"a bad format", []string{dirA, dirB, "-o", "yaml"}, `--format "yaml"`},
	}
	if err := os.WriteFile(filepath.Join(repo, "other.json"), []byte(`{"x": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(brokenLock, "x.lock.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			if r := hicCLI(t, nil, append([]string{"-C", cat, "diff"}, tc.args...)...); r.Code != exitUsage || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("%s\nwant exit 2 and %q", r, tc.want)
			}
		})
	}
}
