package main

import (
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/catalog"
)

// helpRef is a ref or tag in help text: nginx:1.31, nginx:1.31-wolfi-dev,
// nginx:latest (a registry's host:port is not one: it is followed by "/").
var helpRef = regexp.MustCompile(`\b([a-z][a-z0-9-]*[a-z0-9]):([0-9a-z][a-z0-9.-]*[a-z0-9])\b(/?)`)

// TestHelpExamplesResolve keeps the help honest: every ref or tag the help of
// any command cites (Use, Long, Example) names a spec or a tag of the real
// catalog, and every example command line parses with the command's flags.
func TestHelpExamplesResolve(t *testing.T) {
	root := newRootCmd(&rootOptions{getenv: func(string) string { return "" }, catalog: "../../catalog"}, io.Discard)
	r, err := catalog.FindRoot(filepath.Join("..", "..", "catalog"))
	if err != nil {
		t.Fatal(err)
	}
	type cited struct{ cmd, ref string }
	var cites []cited
	var refs []string
	lines := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		text := c.Use + "\n" + c.Long + "\n" + c.Example
		for _, m := range helpRef.FindAllStringSubmatch(text, -1) {
			// Only refs of a catalog image (a folder of the catalog) are
			// the catalog's to answer for: web:2 is no catalog's, a
			// registry's host:port is followed by "/".
			if m[3] != "" || catalog.ImageDirs(r, []string{m[1]}) == nil {
				continue
			}
			cites = append(cites, cited{c.CommandPath(), m[1] + ":" + m[2]})
			refs = append(refs, m[1]+":"+m[2])
		}
		for _, line := range strings.Split(c.Example, "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "hic ") {
				continue
			}
			lines++
			if err := checkHicLine(docWords(line)[1:], true); err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	ro := &rootOptions{getenv: func(string) string { return "" }}
	l, err := ro.loadAndCheckDirs(t.Context(), r, time.Now().UTC(), catalog.ImageDirs(r, refs))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cites {
		if _, err := l.selectSpecs([]string{c.ref}); err != nil {
			t.Errorf("%s: the help cites %s: %v", c.cmd, c.ref, err)
		}
	}
	if len(cites) < 5 || lines < 3 {
		t.Errorf("checked %d refs and %d example lines in the help, want at least 5 and 3", len(cites), lines)
	}
}

// TestFormatFlagsUniform: every command that prints data has -o/--format,
// defaulting to text and offering json; -o means nothing else anywhere.
func TestFormatFlagsUniform(t *testing.T) {
	// The commands that print only a line saying what they wrote.
	statusOnly := map[string]bool{"hic compile": true, "hic site": true, "hic index import": true}
	root := newRootCmd(&rootOptions{getenv: func(string) string { return "" }}, io.Discard)
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.Runnable() || c == root {
			return
		}
		f := c.Flags().Lookup("format")
		if o := c.Flags().ShorthandLookup("o"); o != nil && o != f {
			t.Errorf("%s: -o is --%s, want --format", c.CommandPath(), o.Name)
		}
		if statusOnly[c.CommandPath()] {
			return
		}
		n++
		switch {
		case f == nil:
			t.Errorf("%s has no -o/--format", c.CommandPath())
		case f.Shorthand != "o":
			t.Errorf("%s: --format has no -o", c.CommandPath())
		case f.DefValue != formatText || !strings.Contains(f.Usage, "json"):
			t.Errorf("%s: --format defaults to %q (%s), want text and a json choice", c.CommandPath(), f.DefValue, f.Usage)
		}
	}
	walk(root)
	if n < 15 {
		t.Errorf("checked %d commands, want at least 15", n)
	}
}
