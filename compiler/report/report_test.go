package report

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/finding"
)

// A spec whose last build had failing findings stays refused after a run
// that built other specs into the same output, until a build of it passes.
// (From an outside try: building jq alone made publish push nginx, whose
// last build had failed fs-shell.)
func TestCarryFailing(t *testing.T) {
	shell := []finding.Finding{{Rule: "fs-shell", Severity: finding.Error, Message: "/bin/sh is present"}}
	waived := []finding.Finding{{Rule: "fs-setuid", Severity: finding.Error, Message: "su", Waived: true}}
	first := &Report{Specs: []SpecReport{
		{Ref: "jq:1", Status: StatusBuilt},
		{Ref: "nginx:1", Status: StatusFailed, Findings: shell},
		{Ref: "su:1", Status: StatusBuilt, Findings: waived},
	}}
	second := &Report{Specs: []SpecReport{{Ref: "jq:1", Status: StatusCached}}}
	second.CarryFailing(first)
	want := map[string]string{"nginx:1": "in an earlier build: fs-shell: /bin/sh is present"}
	if diff := cmp.Diff(want, second.FailingSpecs()); diff != "" {
		t.Errorf("after building jq alone (-want +got):\n%s", diff)
	}
	// Carried on through a third run of jq, dropped once nginx builds clean.
	third := &Report{Specs: []SpecReport{{Ref: "jq:1", Status: StatusCached}}}
	third.CarryFailing(second)
	if diff := cmp.Diff(want, third.FailingSpecs()); diff != "" {
		t.Errorf("a run later (-want +got):\n%s", diff)
	}
	fixed := &Report{Specs: []SpecReport{{Ref: "nginx:1", Status: StatusBuilt}}}
	fixed.CarryFailing(third)
	if got := fixed.FailingSpecs(); len(got) != 0 {
		t.Errorf("after nginx built clean: %v, want nothing refused", got)
	}
}

// The summary's tables do not pad their last column: a long error made
// every FAILED row some 800 spaces wide.
func TestSummaryHasNoTrailingSpaces(t *testing.T) {
	r := &Report{Status: StatusCompleted, Specs: []SpecReport{
		{Ref: "a:1", Status: StatusFailed, Error: strings.TrimSpace(strings.Repeat("a long reason ", 40))},
		{Ref: "b:1", Status: StatusFailed, Error: "short"},
		{Ref: "c:1", Status: StatusBuilt, DurationMs: 1200},
	}}
	r.Recount()
	var b strings.Builder
	r.WriteSummary(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("line ends in spaces: %q", line)
		}
	}
	if !strings.Contains(b.String(), "\nb:1     short\n") {
		t.Errorf("summary:\n%s", b.String())
	}
}

// The summary counts in words that agree with the count: "1 spec",
// "1 failing finding".
func TestSummaryPlurals(t *testing.T) {
	shell := []finding.Finding{{Rule: "fs-shell", Severity: finding.Error, Message: "/bin/sh is present"}}
	r := &Report{Status: StatusCompleted, DurationMs: 128, Specs: []SpecReport{{Ref: "a:1", Status: StatusFailed, Findings: shell}}}
	r.Recount()
	var b strings.Builder
	r.WriteSummary(&b)
	for _, want := range []string{"\n1 spec in 128ms (", "1 failing finding; fs-shell: /bin/sh is present"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// The synthetic line counts the specs whose images exist: built or cached
// from a generated mirror, not those that failed or were cancelled in
// flight. (From an outside try: after Ctrl-C it said "2 of 6 specs were
// built" where 1 was.)
func TestSummarySyntheticCountsImagesOnly(t *testing.T) {
	r := &Report{Status: StatusCancelled, Specs: []SpecReport{
		{Ref: "a:1", Status: StatusBuilt, Synthetic: true},
		{Ref: "b:1", Status: StatusCached, Synthetic: true},
		{Ref: "c:1", Status: StatusFailed, Synthetic: true, Error: "disk full"},
		{Ref: "d:1", Status: StatusCancelled, Synthetic: true},
		{Ref: "e:1", Status: StatusBuilt},
	}}
	r.Recount()
	var b strings.Builder
	r.WriteSummary(&b)
	if want := "\nsynthetic: 2 of 5 specs were built from a generated mirror"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
}
