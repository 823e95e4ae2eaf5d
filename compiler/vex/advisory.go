package vex

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/schema"
)

// Dir is the catalog folder holding the advisories, one file per package.
const Dir = schema.AdvisoriesDir

// Rule is the rule id of every advisory finding.
const Rule = "advisory"

// Rules are the rule ids this package enforces.
func Rules() []string { return []string{Rule} }

// Advisory is one vulnerability statement about one package.
type Advisory struct {
	Package       string    `json:"package"`
	ID            string    `json:"id"`
	Aliases       []string  `json:"aliases,omitempty"`
	Status        string    `json:"status"`
	Justification string    `json:"justification,omitempty"`
	Impact        string    `json:"impact,omitempty"`
	Action        string    `json:"action,omitempty"`
	Fixed         string    `json:"fixed,omitempty"`
	Published     time.Time `json:"published"`
	Updated       time.Time `json:"updated,omitzero"`

	// Pos is where the advisory is written; fields has where each field is.
	Pos    finding.Position            `json:"-"`
	fields map[string]finding.Position `json:"-"`
}

// FieldPos is where field ("status", "fixed") of the advisory is written,
// or the advisory itself when the field is not.
func (a *Advisory) FieldPos(field string) finding.Position {
	if p, ok := a.fields[field]; ok {
		return p
	}
	return a.Pos
}

// Advisories are the catalog's advisories by package name, each package's in
// the order written.
type Advisories struct {
	ByPackage map[string][]*Advisory
}

// For returns the advisories of a package.
func (a *Advisories) For(pkg string) []*Advisory {
	if a == nil {
		return nil
	}
	return a.ByPackage[pkg]
}

// All returns every advisory, by package then in the order written.
func (a *Advisories) All() []*Advisory {
	if a == nil {
		return nil
	}
	pkgs := make([]string, 0, len(a.ByPackage))
	for p := range a.ByPackage {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	var out []*Advisory
	for _, p := range pkgs {
		out = append(out, a.ByPackage[p]...)
	}
	return out
}

// DigestFor returns "sha256:<hex>" over the canonical JSON of the
// advisories about pkgs (each package once, by name, each package's
// advisories in the order written), the advisories a signed OpenVEX
// document of an image installing pkgs is made from (Document selects them
// the same way, by package name). It is "" when none is about pkgs, so an
// image none of whose packages has an advisory keeps the digests it had.
func (a *Advisories) DigestFor(pkgs []string) (string, error) {
	names := slices.Clone(pkgs)
	sort.Strings(names)
	names = slices.Compact(names)
	var sel []*Advisory
	for _, n := range names {
		sel = append(sel, a.For(n)...)
	}
	if len(sel) == 0 {
		return "", nil
	}
	// Struct fields encode in a fixed order and times in RFC 3339 UTC, so
	// the same advisories always give the same bytes.
	b, err := json.Marshal(sel)
	if err != nil {
		return "", fmt.Errorf("advisories digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Load reads the advisories of the catalog at root (root/advisories/*.cue).
// A catalog without the folder has none. Findings are the files' syntax and
// schema errors, at file:line:col relative to root; the advisories that did
// decode are returned all the same, so one bad entry hides no other.
func Load(ctx context.Context, root string) (*Advisories, []finding.Finding, error) {
	out := &Advisories{ByPackage: map[string][]*Advisory{}}
	dir := filepath.Join(root, Dir)
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return out, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("advisories: %w", err)
	}
	cctx := cuecontext.New()
	sch, err := schema.Evaluate(cctx)
	if err != nil {
		return nil, nil, err
	}
	def := sch.LookupPath(cue.ParsePath("#Advisory"))
	var fs []finding.Finding
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".cue") || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		rel := filepath.ToSlash(filepath.Join(Dir, e.Name()))
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, fmt.Errorf("advisories: %w", err)
		}
		fs = append(fs, decodeFile(cctx, def, root, rel, src, out)...)
	}
	return out, fs, nil
}

// decodeFile decodes one advisories file into out.
func decodeFile(cctx *cue.Context, def cue.Value, root, rel string, src []byte, out *Advisories) []finding.Finding {
	v := cctx.CompileBytes(src, cue.Filename(filepath.Join(root, rel)))
	if err := v.Err(); err != nil {
		return cueFindings(root, rel, err, "advisories")
	}
	var fs []finding.Finding
	it, err := v.Fields(cue.All())
	if err != nil {
		return cueFindings(root, rel, err, "advisories")
	}
	for it.Next() {
		if it.Selector().String() != "advisories" {
			if it.Selector().IsDefinition() || it.Selector().PkgPath() != "" || strings.HasPrefix(it.Selector().String(), "_") {
				continue
			}
			fs = append(fs, finding.Finding{Rule: Rule, Severity: finding.Error, Pos: posOf(root, rel, it.Value()),
				Message: fmt.Sprintf("unknown top-level field %q: an advisories file declares advisories only", it.Selector().String()),
				Hint:    "write `advisories: \"PACKAGE\": [{id: ..., status: ..., published: ...}]`"})
		}
	}
	pkgs, err := v.LookupPath(cue.ParsePath("advisories")).Fields()
	if err != nil {
		return fs
	}
	for pkgs.Next() {
		pkg := pkgs.Selector().Unquoted()
		list, err := pkgs.Value().List()
		if err != nil {
			fs = append(fs, finding.Finding{Rule: Rule, Severity: finding.Error, Pos: posOf(root, rel, pkgs.Value()),
				Message: fmt.Sprintf("advisories of %s: want a list of advisories", pkg), Hint: "write `\"" + pkg + "\": [{id: ..., status: ..., published: ...}]`"})
			continue
		}
		for i := 0; list.Next(); i++ {
			el := list.Value()
			a := &Advisory{Package: pkg, Pos: posOf(root, rel, el), fields: map[string]finding.Position{}}
			if err := el.Unify(def).Validate(cue.Concrete(true)); err != nil {
				fs = append(fs, cueFindings(root, rel, err, fmt.Sprintf("advisory %d of %s", i+1, pkg))...)
			}
			str := func(name string) string {
				f := el.LookupPath(cue.ParsePath(name))
				if !f.Exists() {
					return ""
				}
				a.fields[name] = posOf(root, rel, f)
				s, _ := f.String()
				return s
			}
			a.ID, a.Status, a.Justification = str("id"), str("status"), str("justification")
			a.Impact, a.Action, a.Fixed = str("impact"), str("action"), str("fixed")
			pub, upd := str("published"), str("updated")
			if al := el.LookupPath(cue.ParsePath("aliases")); al.Exists() {
				_ = al.Decode(&a.Aliases)
				a.fields["aliases"] = posOf(root, rel, al)
			}
			var err2 error
			if pub != "" {
				if a.Published, err2 = parseTime(pub); err2 != nil {
					fs = append(fs, a.finding("published", "published %q: %v", pub, err2))
				}
			}
			if upd != "" {
				if a.Updated, err2 = parseTime(upd); err2 != nil {
					fs = append(fs, a.finding("updated", "updated %q: %v", upd, err2))
				}
			}
			out.ByPackage[pkg] = append(out.ByPackage[pkg], a)
		}
	}
	return fs
}

func (a *Advisory) finding(field, format string, args ...any) finding.Finding {
	return finding.Finding{Rule: Rule, Severity: finding.Error, Pos: a.FieldPos(field),
		Message: a.Package + " " + orUnnamed(a.ID) + ": " + fmt.Sprintf(format, args...)}
}

func orUnnamed(id string) string {
	if id == "" {
		return "(advisory without id)"
	}
	return id
}

// parseTime reads a date (2006-01-02, midnight UTC) or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a date (2026-05-01) or an RFC 3339 time (2026-05-01T12:00:00Z)")
	}
	return t.UTC(), nil
}

func posOf(root, rel string, v cue.Value) finding.Position {
	p := v.Pos()
	if !p.IsValid() {
		return finding.Position{File: rel}
	}
	return finding.Position{File: rel, Line: p.Line(), Column: p.Column()}
}

// reTwice finds the conflicts of two advisory lists of one package: two
// concrete values of one entry's field, or two list lengths (the schema's
// list is open, so a length conflict is between two lists written).
var reTwice = regexp.MustCompile(`^(conflicting values "[^"]*" and "[^"]*"|conflicting values [0-9.]+ and [0-9.]+|incompatible list lengths \(\d+ and \d+\))$`)

// cueFindings turns a CUE error into findings at the positions it names.
func cueFindings(root, rel string, err error, what string) []finding.Finding {
	var fs []finding.Finding
	for _, e := range cueerrors.Errors(err) {
		pos := finding.Position{File: rel}
		for _, p := range cueerrors.Positions(e) {
			if r, err := filepath.Rel(root, p.Filename()); err == nil && filepath.ToSlash(r) == rel {
				pos = finding.Position{File: rel, Line: p.Line(), Column: p.Column()}
				break
			}
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		hint := "advisory fields are id, aliases, status, justification, impact, action, fixed, published, updated (schema/advisories.cue)"
		path := e.Path()
		if len(path) > 1 && path[0] == schema.AdvisoriesPath && reTwice.MatchString(msg) {
			hint = schema.AdvisoriesWrittenTwice(path[1])
		}
		if len(path) > 0 {
			msg = strings.Join(path, ".") + ": " + msg
		}
		fs = append(fs, finding.Finding{Rule: Rule, Severity: finding.Error, Pos: pos, Message: what + ": " + msg, Hint: hint})
	}
	return fs
}
