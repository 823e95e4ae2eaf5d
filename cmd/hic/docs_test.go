package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hic-build/hic/compiler/catalog"
)

// docCommand is a command line found in a document.
type docCommand struct {
	file string
	line int
	text string // the command, continuation lines joined
	code bool   // from a code block (runnable as written), not an inline span
}

var (
	docSpan = regexp.MustCompile("`((?:bin/)?(?:hic|make) [^`]+)`")
	docMake = regexp.MustCompile(`(?m)^([a-z][a-z0-9-]*):`)
)

// docCommands extracts the hic and make command lines of a Markdown file:
// the lines of shell code blocks (fenced, not cue/yaml/json, or indented by
// four spaces) that start with hic or make, with backslash continuations
// joined, and the inline code spans that do.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	lines := strings.Split(string(b), "\n")
	var out []docCommand
	fenced, shell := false, false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "```") {
			if !fenced {
				lang := strings.TrimPrefix(trim, "```")
				shell = lang == "" || lang == "sh" || lang == "shell" || lang == "bash" || lang == "console"
			}
			fenced = !fenced
			continue
		}
		indented := strings.HasPrefix(l, "    ") && !strings.HasPrefix(trim, "|")
		if (fenced && shell) || (!fenced && indented) {
			cmd := strings.TrimPrefix(trim, "$ ")
			if strings.HasPrefix(cmd, "hic ") || strings.HasPrefix(cmd, "bin/hic ") || strings.HasPrefix(cmd, "make ") || cmd == "make" {
				start := i
				for strings.HasSuffix(cmd, "\\") && i+1 < len(lines) {
					i++
					cmd = strings.TrimSuffix(cmd, "\\") + " " + strings.TrimSpace(lines[i])
				}
				out = append(out, docCommand{name, start + 1, cmd, true})
				continue
			}
		}
		if fenced {
			continue
		}
		for _, m := range docSpan.FindAllStringSubmatch(l, -1) {
			out = append(out, docCommand{name, i + 1, m[1], false})
		}
	}
	return out
}

// TestDocsCommandsAreReal checks every hic and make command of README.md and
// CONTRIBUTING.md against the real command tree: a hic command line in a
// code block must name a command and parse with its flags and arguments as
// hic would parse it; an inline one (`hic compile [REF...|--all] --out DIR`,
// with placeholders) must name a command and only flags it has; a make
// command must name a Makefile target. A renamed command or flag fails here.
func TestDocsCommandsAreReal(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range docMake.FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = true
	}
	counts := map[bool]int{}
	croot, err := catalog.FindRoot("../../catalog")
	if err != nil {
		t.Fatal(err)
	}
	var refs, cites []string
	for _, doc := range []string{"../../README.md", "../../CONTRIBUTING.md"} {
		for _, c := range docCommands(t, doc) {
			where := c.file + ":" + strconv.Itoa(c.line)
			words := docWords(c.text)
			if words[0] == "make" {
				for _, w := range words[1:] {
					if !strings.Contains(w, "=") && !strings.HasPrefix(w, "-") && !targets[w] {
						t.Errorf("%s: %s: the Makefile has no target %q", where, c.text, w)
					}
				}
				counts[c.code]++
				continue
			}
			if err := checkHicLine(words[1:], c.code); err != nil {
				t.Errorf("%s: %s: %v", where, c.text, err)
			}
			for _, m := range helpRef.FindAllStringSubmatch(c.text, -1) {
				if m[3] == "" && catalog.ImageDirs(croot, []string{m[1]}) != nil {
					refs = append(refs, m[1]+":"+m[2])
					cites = append(cites, where)
				}
			}
			counts[c.code]++
		}
	}
	// The refs the commands cite name specs or tags of the real catalog.
	ro := &rootOptions{getenv: func(string) string { return "" }}
	l, err := ro.loadAndCheckDirs(t.Context(), croot, time.Now().UTC(), catalog.ImageDirs(croot, refs))
	if err != nil {
		t.Fatal(err)
	}
	for i, ref := range refs {
		if _, err := l.selectSpecs([]string{ref}); err != nil {
			t.Errorf("%s: cites %s: %v", cites[i], ref, err)
		}
	}
	// The documents have this many at least; fewer means the extraction broke.
	if counts[true] < 3 || counts[false] < 50 {
		t.Errorf("checked %d command lines in code blocks and %d inline, want at least 3 and 50", counts[true], counts[false])
	}
}

// TestCheckHicLine: the checker itself refuses what hic refuses.
func TestCheckHicLine(t *testing.T) {
	for _, tc := range []struct {
		line   string
		strict bool
		ok     bool
	}{
		{"keygen --out keys", true, true},
		{"keygen --outdir keys", true, false},
		{"nosuch thing", true, false},
		{"index", true, false},
		{"build --jobs many web", true, false},
		{"show a b", true, false},
		{"compile [REF...\\|--all] --out DIR", false, true},
		{"compile [REF...\\|--everything] --out DIR", false, false},
		{"plan --shards N", false, true},
		{"verify REF -o json", false, true},
	} {
		err := checkHicLine(docWords(tc.line), tc.strict)
		if (err == nil) != tc.ok {
			t.Errorf("checkHicLine(%q, strict %v) = %v, want ok %v", tc.line, tc.strict, err, tc.ok)
		}
	}
}

// docWords splits a command line into words: shell quotes removed, stopped
// at a comment, pipe, redirection or list operator.
func docWords(s string) []string {
	if i := strings.IndexAny(s, "|>;&#"); i >= 0 && !strings.HasPrefix(s[i:], "|--") {
		s = s[:i]
	}
	var out []string
	for _, f := range strings.Fields(s) {
		out = append(out, strings.Trim(f, `"'`))
	}
	return out
}

// checkHicLine resolves args against a fresh command tree. Strictly (a
// code block), flags and arguments must parse; else flags must exist.
func checkHicLine(args []string, strict bool) error {
	root := newRootCmd(&rootOptions{getenv: func(string) string { return "" }}, io.Discard)
	if !strict {
		// Placeholders and alternatives: `[REF...\|--all]` is REF... --all.
		var words []string
		for _, a := range args {
			for _, w := range strings.Split(strings.NewReplacer("[", " ", "]", " ", `\|`, " ", "|", " ").Replace(a), " ") {
				if w != "" && w != "..." {
					words = append(words, w)
				}
			}
		}
		args = words
	}
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root {
		// hic --version, hic --help: flags of the root itself.
		root.InitDefaultVersionFlag()
		root.InitDefaultHelpFlag()
		if len(rest) > 0 && !slices.ContainsFunc(rest, func(a string) bool { return !strings.HasPrefix(a, "-") || lookupFlag(root, a) == nil }) {
			return nil
		}
		return fmt.Errorf("no such command %q", strings.Join(args, " "))
	}
	if !cmd.Runnable() {
		return fmt.Errorf("hic %s needs a subcommand", cmd.Name())
	}
	if strict {
		if err := cmd.ParseFlags(rest); err != nil {
			return err
		}
		return cmd.ValidateArgs(cmd.Flags().Args())
	}
	for _, w := range rest {
		if !strings.HasPrefix(w, "-") || w == "-" {
			continue
		}
		if lookupFlag(cmd, w) == nil {
			return fmt.Errorf("hic %s has no flag %s", cmd.Name(), w)
		}
	}
	return nil
}

func lookupFlag(cmd *cobra.Command, w string) *pflag.Flag {
	name, _, _ := strings.Cut(w, "=")
	if long, ok := strings.CutPrefix(name, "--"); ok {
		if f := cmd.Flags().Lookup(long); f != nil {
			return f
		}
		if f := cmd.InheritedFlags().Lookup(long); f != nil {
			return f
		}
		return nil
	}
	short := strings.TrimPrefix(name, "-")
	if f := cmd.Flags().ShorthandLookup(short[:1]); f != nil {
		return f
	}
	if f := cmd.InheritedFlags().ShorthandLookup(short[:1]); f != nil {
		return f
	}
	return nil
}
