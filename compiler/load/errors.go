package load

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/schema"
)

// translator turns CUE errors into findings positioned in catalog files and
// phrased for contributors.
type translator struct {
	root string
	idx  *index
	// fields are the field names of #Image and #Stream, for "did you mean".
	fields map[string][]string
}

func newTranslator(root string) *translator { return &translator{root: root, fields: schemaFields()} }

func (t *translator) withIndex(idx *index) *translator {
	return &translator{root: t.root, idx: idx, fields: t.fields}
}

// rel makes a file name relative to the catalog root; the embedded
// schema's files are shown as schema/<name>. Only the schema's own files
// are (schema.SourceFile): a catalog file named hic.schema.x.cue is shown
// where it is.
func (t *translator) rel(name string) string {
	if s, ok := schema.SourceFile(name); ok {
		return s
	}
	if r, err := filepath.Rel(t.root, name); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return name
}

func (t *translator) isCatalog(p token.Pos) bool {
	if !p.IsValid() || p.Filename() == "" {
		return false
	}
	_, inSchema := schema.SourceFile(p.Filename())
	return !inSchema
}

func (t *translator) pos(p token.Pos) finding.Position {
	return finding.Position{File: t.rel(p.Filename()), Line: p.Line(), Column: p.Column()}
}

// loadErrors converts errors from cue/load (syntax errors, package clashes).
func (t *translator) loadErrors(err error) []finding.Finding {
	var out []finding.Finding
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if strings.TrimSpace(msg) == "" || (format == "%s" && len(args) == 0) {
			// A wrapped error (cue/load's import-path failures) says what
			// went wrong only in Error.
			msg = e.Error()
		}
		f := finding.Finding{Rule: RuleSyntax, Severity: finding.Error, Message: msg, Hint: syntaxHint}
		if strings.Contains(msg, "nested module") {
			f.Hint = "the folder named lies in a CUE module of its own (a cue.mod below the catalog root): set --catalog (or HIC_CATALOG) to that module's folder, or remove its cue.mod"
		}
		if p := e.Position(); p.IsValid() {
			f.Pos = t.pos(p)
		} else {
			for _, ip := range e.InputPositions() {
				if ip.IsValid() {
					f.Pos = t.pos(ip)
					break
				}
			}
		}
		if !f.Pos.IsValid() {
			// Package clashes and the like carry the file name in the message.
			f.Message = strings.ReplaceAll(msg, t.root+string(filepath.Separator), "")
		}
		out = append(out, f)
	}
	return out
}

const syntaxHint = "fix the syntax at this position; every image file starts with `package hic` and holds `images: NAME: {...}`"

// evalErrors converts evaluation errors into schema findings.
func (t *translator) evalErrors(err error, image string) []finding.Finding {
	errs := cueerrors.Errors(err)
	// A value that fails a disjunction comes back as one "conflicting values"
	// error per alternative, plus summary errors ("empty disjunction",
	// "incompatible list lengths" from a default). Gather the alternatives
	// into one "expected one of" finding and drop the summaries when there is
	// something more specific to say.
	type group struct {
		path  []string
		pos   finding.Position
		pairs [][2]string
	}
	groups := map[string]*group{}
	var order []string
	var plain []finding.Finding
	var plainPathList [][]string
	plainPaths := map[string]bool{}
	var summaries []finding.Finding
	for _, e := range errs {
		path := e.Path()
		pos := t.place(e, path, image)
		format, args := e.Msg()
		raw := fmt.Sprintf(format, args...)
		if a, b, _, _, ok := conflictParts(raw); ok {
			k := strings.Join(path, sep)
			g, seen := groups[k]
			if !seen {
				g = &group{path: path, pos: pos}
				groups[k] = g
				order = append(order, k)
			}
			g.pairs = append(g.pairs, [2]string{a, b})
			continue
		}
		f := t.finding(RuleSchema, strings.Join(path, "."), rewrite(raw, path), &pos)
		if reDisj.MatchString(raw) || strings.HasPrefix(raw, "incompatible list lengths") {
			summaries = append(summaries, f)
			continue
		}
		plain = append(plain, f)
		plainPathList = append(plainPathList, path)
		plainPaths[strings.Join(path, sep)] = true
	}
	out := t.suggest(plain, plainPathList)
	for _, k := range order {
		g := groups[k]
		if plainPaths[k] {
			// The value broke a bound or pattern, reported above; the
			// conflict with the schema's default adds only noise.
			continue
		}
		if len(g.pairs) == 1 {
			out = append(out, t.finding(RuleSchema, strings.Join(g.path, "."), rewriteConflict(g.pairs[0][0], g.pairs[0][1], g.path), &g.pos))
			continue
		}
		got, expected := splitAlternatives(g.pairs)
		msg := fmt.Sprintf("%sexpected one of %s, spec has %s", field(g.path), strings.Join(expected, ", "), got)
		out = append(out, t.finding(RuleSchema, strings.Join(g.path, "."), msg, &g.pos))
	}
	if len(out) == 0 {
		out = summaries
	}
	return out
}

// splitAlternatives finds the spec's value, the side common to every
// conflicting pair, and the schema's alternatives, the other sides.
func splitAlternatives(pairs [][2]string) (got string, expected []string) {
	count := map[string]int{}
	for _, p := range pairs {
		count[p[0]]++
		if p[1] != p[0] {
			count[p[1]]++
		}
	}
	for v, n := range count {
		if n == len(pairs) && (got == "" || !looksLikeSchema(v)) {
			got = v
		}
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		for _, v := range p {
			if v != got && !seen[v] {
				seen[v] = true
				expected = append(expected, describe(v))
			}
		}
	}
	sort.Strings(expected)
	return got, expected
}

// place picks where an error is shown: the first position in a catalog file,
// else where its path is written, else the image.
func (t *translator) place(e cueerrors.Error, path []string, image string) finding.Position {
	if p := e.Position(); t.isCatalog(p) {
		return t.pos(p)
	}
	for _, p := range e.InputPositions() {
		if t.isCatalog(p) {
			return t.pos(p)
		}
	}
	if t.idx != nil {
		if p, ok := t.idx.lookup(path); ok {
			return p
		}
		if image != "" {
			if p, ok := t.idx.exact(schema.ImagesPath, image); ok {
				return p
			}
		}
	}
	if p := e.Position(); p.IsValid() {
		return t.pos(p)
	}
	return finding.Position{}
}

func (t *translator) finding(rule, path, msg string, pos *finding.Position) finding.Finding {
	f := finding.Finding{Rule: rule, Severity: finding.Error, Message: msg, Hint: schemaHint(path, msg)}
	if pos != nil {
		f.Pos = *pos
	}
	return f
}

var (
	reConflictTyped = regexp.MustCompile(`^conflicting values (.+?) and (.+) \(mismatched types (\S+) and (\S+)\)$`)
	reConflict      = regexp.MustCompile(`^conflicting values (.+?) and (.+)$`)
	reOutOfBound    = regexp.MustCompile(`^invalid value (.+) \(out of bound (.+)\)$`)
	reIncomplete    = regexp.MustCompile(`^incomplete value (.+)$`)
	reNotSatisfied  = regexp.MustCompile(`^invalid value (.+) \(does not satisfy (.+?)\)(: .*)?$`)
	reNotAllowed    = regexp.MustCompile(`^field not allowed$`)
	reListLen       = regexp.MustCompile(`^incompatible list lengths \((\d+) and (\d+)\)$`)
	reDisj          = regexp.MustCompile(`^(\d+ errors in )?empty disjunction`)
)

// conflictParts splits "conflicting values A and B [(mismatched types X and Y)]".
func conflictParts(msg string) (a, b, ta, tb string, ok bool) {
	if m := reConflictTyped.FindStringSubmatch(msg); m != nil {
		return m[1], m[2], m[3], m[4], true
	}
	if m := reConflict.FindStringSubmatch(msg); m != nil {
		return m[1], m[2], "", "", true
	}
	return "", "", "", "", false
}

// rewriteConflict phrases one conflict. CUE does not say which side is the
// schema's; the side that is a type or a pattern is.
func rewriteConflict(a, b string, path []string) string {
	if len(path) > 1 && path[0] == schema.AdvisoriesPath && !looksLikeSchema(a) && !looksLikeSchema(b) {
		// Two advisory lists of one package: neither side is the schema's.
		return fmt.Sprintf("%sconflicting values %s and %s", field(path), a, b)
	}
	exp, got := b, a
	if looksLikeSchema(a) && !looksLikeSchema(b) {
		exp, got = a, b
	}
	return fmt.Sprintf("%sexpected %s, spec has %s", field(path), describe(exp), got)
}

func looksLikeSchema(s string) bool {
	switch {
	case strings.HasPrefix(s, "=~"), strings.HasPrefix(s, ">"), strings.HasPrefix(s, "<"), strings.HasPrefix(s, "!="):
		return true
	case s == "string", s == "int", s == "bool", s == "float", s == "number", s == "bytes", s == "null":
		return true
	case strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") || strings.HasPrefix(s, "list") || strings.HasPrefix(s, "struct"):
		return true
	}
	return false
}

// rewrite phrases a raw CUE message as "expected X, spec has Y".
func rewrite(msg string, path []string) string {
	if a, b, _, _, ok := conflictParts(msg); ok {
		return rewriteConflict(a, b, path)
	}
	if m := reOutOfBound.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%sexpected %s, spec has %s", field(path), describe(m[2]), m[1])
	}
	if m := reNotSatisfied.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%sexpected %s, spec has %s", field(path), describe(m[2]), m[1])
	}
	if m := reIncomplete.FindStringSubmatch(msg); m != nil {
		return missingField(path, describe(m[1]))
	}
	if reNotAllowed.MatchString(msg) {
		name := ""
		if len(path) > 0 {
			name = path[len(path)-1]
		}
		if u, err := strconv.Unquote(name); err == nil {
			name = u
		}
		return fmt.Sprintf("unknown field %q: the schema has no such field here", name)
	}
	if m := reListLen.FindStringSubmatch(msg); m != nil {
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		return fmt.Sprintf("%sexpected a list of at least %d elements, spec has %d", field(path), max(a, b), min(a, b))
	}
	if reDisj.MatchString(msg) {
		return field(path) + "value matches none of the allowed alternatives"
	}
	return field(path) + msg
}

// missingField phrases a required field without a value: "required field
// "entrypoint" is missing (a list of string)". A list element's path
// (entrypoint.0) names the list.
func missingField(path []string, expects string) string {
	p := path
	if len(p) >= 2 && p[0] == schema.ImagesPath {
		p = p[2:]
	}
	list := false
	for len(p) > 0 {
		if _, err := strconv.Atoi(p[len(p)-1]); err != nil {
			break
		}
		p, list = p[:len(p)-1], true
	}
	if list {
		switch expects {
		case "string", "int", "bool", "number":
			expects += "s"
		}
		expects = "a list of " + expects
	}
	if len(p) == 0 {
		return "required value is missing (" + expects + ")"
	}
	return fmt.Sprintf("required field %q is missing (%s)", strings.Join(p, "."), expects)
}

// field names the spec field in a message, without the images.NAME prefix.
func field(path []string) string {
	if len(path) >= 2 && path[0] == schema.ImagesPath {
		path = path[2:]
	}
	if len(path) == 0 {
		return ""
	}
	return strings.Join(path, ".") + ": "
}

// patterns gives the schema's regular expressions names people know.
var patterns = map[string]string{
	`=~"^[0-9]{1,5}/(tcp|udp)$"`:          `a port like "8080/tcp" (#Port)`,
	`=~"^[0-9][0-9A-Za-z._+~]*-r[0-9]+$"`: `an APK version with its release like "1.29.3-r0" (#APKVersion)`,
	`=~"^[a-zA-Z0-9][a-zA-Z0-9._+-]*$"`:   `a package name like "nginx" (#PackageName)`,
	`=~"^/[^\\s]*$"`:                      `an absolute path like "/var/lib/app" (#AbsPath)`,
	`=~"^https?://[^\\s/$.?#].[^\\s]*$"`:  `a URL like "https://nginx.org" (#URL)`,
	`=~"^https://[^\\s/$.?#].[^\\s]*$"`:   `an https URL (#HTTPSURL)`,
	`=~"^[a-z0-9]+([._-][a-z0-9]+)*$"`:    `a lower-case name like "my-image" (#Name)`,
	`=~"^[a-z0-9]+([.][a-z0-9]+)*$"`:      `a stream name like "1.29" or "lts" (#StreamName)`,
	`=~"^SIG[A-Z0-9]+$"`:                  `a signal name like "SIGTERM" (#Signal)`,
	`=~"^[A-Za-z_][A-Za-z0-9_]*$"`:        `an environment variable name (#EnvName)`,
	`=~"^\\S.{0,79}$"`:                    `a title of 1 to 80 characters`,
	`=~"^\\S.{9,299}$"`:                   `a description of 10 to 300 characters`,
	`time.Format("2006-01-02")`:           `a date like "2026-11-27" (#Date)`,
	`=~"^\\(?[A-Za-z0-9.+-]+\\)?( (AND|OR|WITH) \\(?[A-Za-z0-9.+-]+\\)?)*$"`: `an SPDX license expression like "Apache-2.0" (#SPDX)`,
}

func describe(s string) string {
	if d, ok := patterns[s]; ok {
		return d
	}
	if strings.HasPrefix(s, "{") {
		return "a struct {...}"
	}
	if strings.HasPrefix(s, "time.Format") {
		return `a date like "2026-11-27" (#Date)`
	}
	return s
}

// rePinned finds a package name with a version ("curl=8.21.0-r0",
// "curl>=8"), reTagged one with a repository tag ("curl@edge"), as the
// value a message says the spec has; rePackagesElem an element of an
// image's packages.
var (
	rePinned       = regexp.MustCompile(`spec has "[a-zA-Z0-9][a-zA-Z0-9._+-]*(=|<|>|~)[^"]*"$`)
	reTagged       = regexp.MustCompile(`spec has "[a-zA-Z0-9][a-zA-Z0-9._+-]*@[^"]*"$`)
	rePackagesElem = regexp.MustCompile(`(^|\.)packages\.[0-9]+$`)
)

// reTwice finds the conflicts of two advisory lists of one package: two
// values of one entry (rewriteConflict), or two lengths.
var reTwice = regexp.MustCompile(`: conflicting values |expected a list of at least \d+ elements, spec has \d+$`)

// advisoryPackage is the package label of an advisories path
// (advisories."nginx-mainline".0.id -> "nginx-mainline", quoted as written).
func advisoryPackage(path string) string {
	rest := strings.TrimPrefix(path, schema.AdvisoriesPath+".")
	if q, err := strconv.QuotedPrefix(rest); err == nil {
		return q
	}
	pkg, _, _ := strings.Cut(rest, ".")
	return pkg
}

// schemaHint points at the schema definition that governs a path.
func schemaHint(path, msg string) string {
	switch {
	case rePackagesElem.MatchString(path) && rePinned.MatchString(msg):
		// apko resolves packages from the spec's repositories when the
		// image is built; compiler/resolve records what it chose in the
		// spec's lock. Only mainPackage carries "=version" (#expand).
		return "packages takes package names only, such as \"curl\": their versions are resolved from the image's repositories when it is built and recorded in the spec's lock (OUT/compiled/*.lock.json); only the main package, package, is pinned, by each stream's version"
	case rePackagesElem.MatchString(path) && reTagged.MatchString(msg):
		// "curl@edge" is apk's world syntax for a tagged repository;
		// apko and hic read every repository of the image alike.
		return "packages takes package names only, such as \"curl\": a repository tag (@edge, @testing) is apk's world-file syntax, which hic does not read; a package not in the distro's repositories comes from a repository the catalog declares in repositories/*.cue and the image names in extraRepositories"
	case (path == "package" || strings.HasSuffix(path, ".package")) && rePinned.MatchString(msg):
		return "package takes the package name only, such as \"nginx\": each stream pins it with version (and versions: {DISTRO: ...} where a distro's release differs)"
	case strings.HasPrefix(msg, "unknown field"):
		return "check the spelling against the fields of #Image in schema/image.cue (see CONTRIBUTING.md)"
	case strings.HasPrefix(msg, "required "):
		return "add the field to the image; schema/image.cue documents each field of #Image and #Stream"
	case strings.Contains(path, "extraRepositories"):
		return "name a repository the catalog declares in repositories/*.cue: repositories: NAME: {url: \"https://...\", keys: {\"https://.../KEY.rsa.pub\": \"sha256:...\"}}"
	case strings.HasPrefix(path, schema.AdvisoriesPath+"."):
		pkg := advisoryPackage(path)
		if reTwice.MatchString(msg) {
			return schema.AdvisoriesWrittenTwice(pkg)
		}
		return "see #Advisory in schema/advisories.cue: advisory fields are id, aliases, status, justification, impact, action, fixed, published, updated"
	case strings.HasPrefix(path, schema.RepositoriesPath+"."):
		return "see #Repository in schema/repositories.cue: an https url and at least one key URL pinned to \"sha256:\" and the hex SHA-256 of its DER public key"
	case strings.Contains(path, "streams"):
		return "a stream is one line: \"1.29\": {version: \"1.29.3-r0\", released: \"2025-06-24\", eol: \"2026-06-24\"}"
	}
	return "see schema/image.cue for the type of this field"
}
