package load

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/textdist"
	"github.com/hic-build/hic/schema"
)

// schemaFields lists the field names of the schema definitions a catalog
// file writes (#Image, #Stream), read from the embedded schema text.
func schemaFields() map[string][]string {
	out := map[string][]string{}
	files, err := schema.Files()
	if err != nil {
		return out
	}
	src := string(files["image.cue"])
	for _, def := range []string{"#Image", "#Stream"} {
		i := strings.Index(src, "\n"+def+": {\n")
		if i < 0 {
			continue
		}
		body := src[i+len(def)+5:]
		if j := strings.Index(body, "\n}"); j >= 0 {
			body = body[:j]
		}
		for _, m := range reSchemaField.FindAllStringSubmatch(body, -1) {
			out[def] = append(out[def], m[1])
		}
	}
	return out
}

var reSchemaField = regexp.MustCompile(`(?m)^\t([A-Za-z_][A-Za-z0-9_]*)[?!]?:`)

// suggest gives an unknown field close to a schema field a "did you mean"
// (see dropCaused for the finding the typo also causes).
func (t *translator) suggest(fs []finding.Finding, paths [][]string) []finding.Finding {
	for i, f := range fs {
		p := paths[i]
		if !strings.HasPrefix(f.Message, "unknown field ") || len(p) < 3 || p[0] != schema.ImagesPath {
			continue
		}
		name, err := strconv.Unquote(p[len(p)-1])
		if err != nil {
			name = p[len(p)-1]
		}
		def := "#Image"
		if len(p) == 5 && p[2] == "streams" {
			def = "#Stream"
		} else if len(p) != 3 {
			continue
		}
		best := closest(name, t.fields[def])
		if best == "" {
			continue
		}
		fs[i].Message = fmt.Sprintf("unknown field %q: did you mean %q?", name, best)
		fs[i].Hint = fmt.Sprintf("rename %s to %s (the fields of %s are in schema/image.cue)", name, best, def)
	}
	return fs
}

var reDidYouMean = regexp.MustCompile(`^unknown field "[^"]*": did you mean "([^"]*)"\?$`)

// dropCaused drops the "required field F is missing" findings that an
// unknown field with "did you mean F" explains: the typo is one mistake.
func dropCaused(fs []finding.Finding) []finding.Finding {
	meant := map[string]bool{}
	for _, f := range fs {
		if m := reDidYouMean.FindStringSubmatch(f.Message); m != nil {
			meant[m[1]] = true
		}
	}
	if len(meant) == 0 {
		return fs
	}
	var out []finding.Finding
	for _, f := range fs {
		if name, ok := missingName(f.Message); ok {
			last := name[strings.LastIndex(name, ".")+1:]
			if meant[last] {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

// missingName is F of a "required field "F" is missing" message.
func missingName(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "required field ")
	if !ok {
		return "", false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", false
	}
	name, err := strconv.Unquote(q)
	return name, err == nil
}

// closest is the candidate within a small edit distance of name, or "".
func closest(name string, candidates []string) string {
	best, bestD := "", 0
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	for _, c := range candidates {
		d := textdist.Levenshtein(strings.ToLower(name), strings.ToLower(c))
		if d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}
