package diff

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

// MarkdownLimit is the size Markdown keeps under by default: GitHub refuses
// comments longer than 65,536 characters.
const MarkdownLimit = 60000

// Summary is the one-line count of a diff.
func (d *Diff) Summary() string {
	sum := fmt.Sprintf("%d added, %d removed, %d changed, %d unchanged",
		len(d.Added), len(d.Removed), len(d.Changed), d.Unchanged)
	if n := len(d.Advisories); n > 0 {
		sum += fmt.Sprintf("; %d advisor%s changed", n, map[bool]string{true: "y", false: "ies"}[n == 1])
	}
	return sum
}

// advisoryLines renders the changed advisories as diff lines.
func (d *Diff) advisoryLines() []string {
	var lines []string
	for _, c := range d.Advisories {
		lines = append(lines, c.Lines()...)
	}
	return lines
}

// group is specs whose changes render the same: a version bump usually
// changes every distro and variant of a stream alike, and shows once.
type group struct {
	refs  []string
	lines []string
}

// groups merges the changed specs with identical change lines, in the order
// of their first ref.
func (d *Diff) groups() []group {
	var out []group
	at := map[string]int{}
	for _, s := range d.Changed {
		var lines []string
		for _, c := range s.Changes {
			lines = append(lines, c.Lines()...)
		}
		key := strings.Join(lines, "\n")
		if i, ok := at[key]; ok {
			out[i].refs = append(out[i].refs, s.Ref)
			continue
		}
		at[key] = len(out)
		out = append(out, group{refs: []string{s.Ref}, lines: lines})
	}
	return out
}

// WriteText writes the diff for a terminal: the summary, the added and
// removed refs, and for each changed spec (or specs changed alike) its
// changes as "- field: old" / "+ field: new" lines; specs changed alike are
// named on one "~ A, B" line.
func (d *Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "compiled specs: %s\n", d.Summary())
	if len(d.Added) > 0 {
		b.WriteString("\nadded:\n")
		for _, r := range d.Added {
			fmt.Fprintf(&b, "  + %s\n", r)
		}
	}
	if len(d.Removed) > 0 {
		b.WriteString("\nremoved:\n")
		for _, r := range d.Removed {
			fmt.Fprintf(&b, "  - %s\n", r)
		}
	}
	if len(d.Advisories) > 0 {
		b.WriteString("\nadvisories (the OpenVEX statements of the images below that install their packages change with them):\n")
		for _, l := range d.advisoryLines() {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	for _, g := range d.groups() {
		b.WriteString("\n")
		// Specs changed alike share one line, so none of them reads as
		// unchanged.
		fmt.Fprintf(&b, "~ %s\n", strings.Join(g.refs, ", "))
		for _, l := range g.lines {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the Diff value as indented JSON.
func (d *Diff) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// WriteMarkdown writes the diff as a pull-request comment: a heading with the
// summary, the added and removed refs, and one collapsed section per changed
// spec (or specs changed alike) with a diff block. Past limit characters
// (MarkdownLimit when limit <= 0) the remaining specs are only counted.
func (d *Diff) WriteMarkdown(w io.Writer, limit int) error {
	if limit <= 0 {
		limit = MarkdownLimit
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### hic diff: %s\n", d.Summary())
	if d.Empty() {
		b.WriteString("\nNo compiled image changes.\n")
	}
	refList := func(title string, refs []string) {
		if len(refs) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n**%s (%d):**", title, len(refs))
		for i, r := range refs {
			sep := ", "
			if i == 0 {
				sep = " "
			}
			fmt.Fprintf(&b, "%s%s", sep, code(r))
		}
		b.WriteString("\n")
	}
	refList("Added", d.Added)
	refList("Removed", d.Removed)
	if len(d.Advisories) > 0 {
		body := strings.Join(d.advisoryLines(), "\n")
		fence := fenceFor(body)
		fmt.Fprintf(&b, "\n<details><summary>Advisories changed (%d)</summary>\n\n%sdiff\n%s\n%s\n\n</details>\n", len(d.Advisories), fence, body, fence)
	}
	gs := d.groups()
	if len(gs) > 0 {
		b.WriteString("\n**Changed:**\n")
	}
	for i, g := range gs {
		var s strings.Builder
		names := make([]string, len(g.refs))
		for j, r := range g.refs {
			names[j] = "<code>" + html.EscapeString(r) + "</code>"
		}
		fields := fieldsOf(d, g.refs[0])
		fmt.Fprintf(&s, "\n<details><summary>%s: %s</summary>\n\n", strings.Join(names, ", "), html.EscapeString(strings.Join(fields, ", ")))
		body := strings.Join(g.lines, "\n")
		fence := fenceFor(body)
		fmt.Fprintf(&s, "%sdiff\n%s\n%s\n\n</details>\n", fence, body, fence)
		if b.Len()+s.Len() > limit {
			rest := 0
			for _, g := range gs[i:] {
				rest += len(g.refs)
			}
			fmt.Fprintf(&b, "\n… and %d more changed specs; run `hic diff` locally for the whole diff.\n", rest)
			break
		}
		b.WriteString(s.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fieldsOf(d *Diff, ref string) []string {
	for _, s := range d.Changed {
		if s.Ref == ref {
			return s.Fields()
		}
	}
	return nil
}

// code renders s as inline code, with a fence longer than any backtick run in it.
func code(s string) string {
	n := longestRun(s, '`') + 1
	f := strings.Repeat("`", n)
	if n > 1 || strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return f + " " + s + " " + f
	}
	return f + s + f
}

// fenceFor returns a code fence longer than any backtick run in body.
func fenceFor(body string) string {
	return strings.Repeat("`", max(3, longestRun(body, '`')+1))
}

func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
