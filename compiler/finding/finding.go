// Package finding holds the one result type every checking stage shares: a
// Finding names a hardening rule, the spec it concerns, where in the catalog
// source the problem is, what is wrong and how to fix it.
//
// The static checks (compiler/check), the post-build checks (compiler/inspect)
// and the renderers (hic vet, report.json, the hardening attestation) all speak
// in Findings; no stage defines its own result type.
package finding

import (
	"fmt"
	"sort"
)

// Severity orders findings. Errors fail vet and build; warnings are reported only.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Position is a place in a catalog source file. Line and Column are 1-based;
// a zero Line means the position is unknown.
type Position struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// IsValid reports whether the position names a file.
func (p Position) IsValid() bool { return p.File != "" }

// String renders file:line:col, dropping the parts that are unknown.
func (p Position) String() string {
	switch {
	case p.File == "":
		return "-"
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Finding is one rule outcome for one spec.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Ref is the spec ref ("nginx:1.29-wolfi-runtime"); empty for findings
	// about a file that did not load far enough to have specs.
	Ref     string   `json:"ref,omitempty"`
	Pos     Position `json:"position"`
	Message string   `json:"message"`
	Hint    string   `json:"hint,omitempty"`
	// Waived is set when an exception in the spec covers this finding; Reason
	// is the exception's reason. Waived findings do not fail anything but are
	// always reported.
	Waived bool   `json:"waived,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Failing reports whether the finding should fail vet or build.
func (f Finding) Failing() bool { return !f.Waived && f.Severity == Error }

// Sort orders findings by file, line, column, rule and ref, so output is stable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		if a.Ref != b.Ref {
			return a.Ref < b.Ref
		}
		return a.Rule < b.Rule
	})
}

// CountFailing returns how many findings fail.
func CountFailing(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if f.Failing() {
			n++
		}
	}
	return n
}
