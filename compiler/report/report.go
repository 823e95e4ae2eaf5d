// Package report owns the outcome of a build: out/report.json (Report, one
// SpecReport per spec, Counts) and the end-of-build summary. It links nothing
// of the build itself, so plan and verify can read reports without apko.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/smoke"
)

// Spec statuses.
const (
	StatusBuilt     = "built"
	StatusCached    = "cached"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Run statuses.
const (
	StatusCompleted = "completed"
	// StatusCancelled (above) also marks a cancelled run.
)

// Report is the outcome of one build (pipeline.Run): out/report.json.
type Report struct {
	// Status is "completed" or "cancelled".
	Status      string `json:"status"`
	HicVersion  string `json:"hicVersion"`
	ApkoVersion string `json:"apkoVersion"`
	DurationMs  int64  `json:"durationMs"`
	// Signed says whether the build signed its images and attestations
	// (false for a build run with --unsigned); KeyID names the key. An
	// unsigned build that left images an earlier build signed in the
	// layout (hic build --unsigned --replace-signed of some specs) keeps
	// that build's KeyID (CarryKey). It names one key: which key signed
	// each image is in the layout's index.json (attest.AnnotationKeyID),
	// and hic publish --key verifies each image's attestations itself; the
	// build reads KeyID only for entries that name no key (layouts written
	// before they did).
	Signed bool   `json:"signed"`
	KeyID  string `json:"keyId,omitempty"`
	Counts Counts `json:"counts"`
	// Shard says which shard of which plan this build was (hic build
	// --shard); nil for a build of a plain selection and for a merged report.
	Shard *Shard `json:"shard,omitempty"`
	// Plan is the digest of the plan a merged report joined the shards of.
	Plan string `json:"plan,omitempty"`
	// Specs are ordered by ref.
	Specs []SpecReport `json:"specs"`
	// EarlierFailing are the specs this run did not build whose last
	// build, an earlier run into the same output, had failing findings
	// (see CarryFailing): publish refuses them until a build passes.
	EarlierFailing []SpecReport `json:"earlierFailing,omitempty"`
}

// CarryFailing keeps in r what an earlier report of the same output says
// of specs r did not build: those whose last build had failing findings,
// so that building one spec does not make another's failure forgotten.
func (r *Report) CarryFailing(earlier *Report) {
	seen := map[string]bool{}
	for _, s := range r.Specs {
		seen[s.Ref] = true
	}
	for _, s := range slices.Concat(earlier.Specs, earlier.EarlierFailing) {
		if !seen[s.Ref] && failingWhy(s) != "" {
			seen[s.Ref] = true
			r.EarlierFailing = append(r.EarlierFailing, s)
		}
	}
	slices.SortFunc(r.EarlierFailing, func(a, b SpecReport) int { return strings.Compare(a.Ref, b.Ref) })
}

// CarryKey keeps in an unsigned run's report the key id of the earlier
// report of the same output when the layout still holds images signed
// (layoutSigned): their attestations are still that key's.
func (r *Report) CarryKey(earlier *Report, layoutSigned bool) {
	if !r.Signed && r.KeyID == "" && layoutSigned {
		r.KeyID = earlier.KeyID
	}
}

// Shard is the place of a shard build in its plan.
type Shard struct {
	// Plan is the plan's digest (plan.Plan.Digest): every shard of one plan
	// has the same.
	Plan string `json:"plan"`
	// Index is the shard's number, 0-based; Count the plan's number of shards.
	Index int `json:"index"`
	Count int `json:"count"`
}

// Counts tallies the specs of a Report by status, plus failing and waived findings.
type Counts struct {
	Built  int `json:"built"`
	Cached int `json:"cached"`
	// CachedRegistry is how many of Cached were found in a registry.
	CachedRegistry  int `json:"cachedRegistry,omitempty"`
	Failed          int `json:"failed"`
	Cancelled       int `json:"cancelled"`
	FailingFindings int `json:"failingFindings"`
	WaivedFindings  int `json:"waivedFindings"`
}

// SpecReport is one spec's line in the report.
type SpecReport struct {
	Ref         string `json:"ref"`
	InputDigest string `json:"inputDigest,omitempty"`
	ImageDigest string `json:"imageDigest,omitempty"`
	Status      string `json:"status"`
	// CachedFrom names the registry repository a cached spec's image was
	// found in (hic build --cache-from): the image is there, not in the
	// local layout. Empty for an image cached in the layout.
	CachedFrom string            `json:"cachedFrom,omitempty"`
	DurationMs int64             `json:"durationMs"`
	Error      string            `json:"error,omitempty"`
	Findings   []finding.Finding `json:"findings,omitempty"`
	// Tests are the smoke-test results per platform: passed, failed or
	// not-run with the reason (never counted as passed).
	Tests []smoke.Result `json:"tests,omitempty"`
	// Synthetic says the image was built from a generated mirror (hic
	// mirror, compiler/apkrepo): its packages have synthetic contents, so
	// it is not a real image of the distro.
	Synthetic bool `json:"synthetic,omitempty"`
	// RejectedDigest is the image that failed a post-build check: stored
	// untagged and unsigned in the layout (index.json entry annotated
	// dev.hic.rejected.spec.ref) for inspection, never given a tag.
	RejectedDigest string `json:"rejectedDigest,omitempty"`
}

// Failed reports whether the spec failed: a build error, or a post-build
// finding that is not waived.
func (s SpecReport) Failed() bool {
	return s.Status == StatusFailed || finding.CountFailing(s.Findings) > 0
}

// Failed reports whether the run should exit non-zero: it was cancelled, a
// spec failed to build, or a post-build finding fails.
func (r *Report) Failed() bool {
	if r.Status != StatusCompleted {
		return true
	}
	for _, s := range r.Specs {
		if s.Failed() || s.Status == StatusCancelled {
			return true
		}
	}
	return false
}

// Recount sets r.Counts from r.Specs.
func (r *Report) Recount() {
	c := Counts{}
	for _, s := range r.Specs {
		c.Add(Count(s), 1)
	}
	r.Counts = c
}

// Count is what one spec adds to a report's counts: its status, and its
// failing and waived findings.
func Count(s SpecReport) Counts {
	var c Counts
	switch s.Status {
	case StatusBuilt:
		c.Built++
	case StatusCached:
		c.Cached++
		if s.CachedFrom != "" {
			c.CachedRegistry++
		}
	case StatusFailed:
		c.Failed++
	case StatusCancelled:
		c.Cancelled++
	}
	for _, f := range s.Findings {
		switch {
		case f.Failing():
			c.FailingFindings++
		case f.Waived:
			c.WaivedFindings++
		}
	}
	return c
}

// Add adds sign times o to c (sign -1 takes o away).
func (c *Counts) Add(o Counts, sign int) {
	c.Built += sign * o.Built
	c.Cached += sign * o.Cached
	c.CachedRegistry += sign * o.CachedRegistry
	c.Failed += sign * o.Failed
	c.Cancelled += sign * o.Cancelled
	c.FailingFindings += sign * o.FailingFindings
	c.WaivedFindings += sign * o.WaivedFindings
}

// WriteFile writes the report as indented JSON to path atomically (temporary
// file in the same directory, fsync, rename), creating the directory.
func (r *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// ReadReport reads a report written by WriteFile.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// ReadEarlier reads the report an earlier build left at path, for what a
// build carries over (CarryFailing, CarryKey) and what publish refuses
// (FailingSpecs): nil when there is none. One that exists but cannot be
// read or parsed is a *fsutil.DamagedError, never no report: it lists the
// specs whose last build failed, and dropping it would let publish push
// them.
func ReadEarlier(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil {
		var r Report
		if err = json.Unmarshal(b, &r); err == nil {
			return &r, nil
		}
	}
	return nil, &fsutil.DamagedError{Path: path, Err: err, Fix: "it records the specs whose last build failed, which hic publish refuses until a build of them passes, " +
		"so it is neither dropped nor replaced: restore it from a copy of the last build's output (a backup, a CI artifact), " +
		"or remove it to forget those failures (hic publish then no longer refuses those specs' earlier images)"}
}

// SyntheticCount counts the specs built (or cached) from a generated mirror.
func (r *Report) SyntheticCount() int {
	n := 0
	for _, s := range r.Specs {
		if s.Synthetic && (s.Status == StatusBuilt || s.Status == StatusCached) {
			n++
		}
	}
	return n
}

// testSummary counts the smoke-test results of every spec: passed (and
// how many of those passed only on synthetic contents), failed, not run;
// "" when no spec has tests.
func (r *Report) testSummary() string {
	var passed, synthetic, failed, notRun int
	for _, s := range r.Specs {
		for _, t := range s.Tests {
			switch t.Status {
			case smoke.Passed:
				passed++
				if t.Synthetic {
					synthetic++
				}
			case smoke.Failed:
				failed++
			default:
				notRun++
			}
		}
	}
	if passed+failed+notRun == 0 {
		return ""
	}
	line := fmt.Sprintf("smoke tests: %d passed", passed)
	if synthetic > 0 {
		line += fmt.Sprintf(" (%d only on synthetic contents: the runner works, the real program was not run)", synthetic)
	}
	return line + fmt.Sprintf(", %d failed, %d not run", failed, notRun)
}

// slowest is how many specs the summary lists by duration.
const slowest = 5

// WriteSummary writes the end-of-build table: counts, total time, the
// slowest specs, and every failure.
func (r *Report) WriteSummary(w io.Writer) {
	c := r.Counts
	cached := fmt.Sprint(c.Cached)
	if c.CachedRegistry > 0 {
		cached += fmt.Sprintf(" (%d in the registry)", c.CachedRegistry)
	}
	fmt.Fprintf(w, "\n%s in %s (%s): %d built, %s cached, %d failed, %d cancelled; findings: %d failing, %d waived\n",
		count(len(r.Specs), "spec"), time.Duration(r.DurationMs)*time.Millisecond, r.Status, c.Built, cached, c.Failed, c.Cancelled, c.FailingFindings, c.WaivedFindings)
	var built []SpecReport
	for _, s := range r.Specs {
		if s.Status == StatusBuilt || s.Status == StatusFailed {
			built = append(built, s)
		}
	}
	sort.SliceStable(built, func(i, j int) bool { return built[i].DurationMs > built[j].DurationMs })
	if len(built) > slowest {
		built = built[:slowest]
	}
	if n := r.SyntheticCount(); n > 0 {
		fmt.Fprintf(w, "synthetic: %d of %d specs were built from a generated mirror (hic mirror): their packages have synthetic contents; these are not real images\n", n, len(r.Specs))
	}
	if line := r.testSummary(); line != "" {
		fmt.Fprintln(w, line)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(built) > 0 {
		fmt.Fprintln(tw, "\nSLOWEST\tSTATUS\tTIME")
		for _, s := range built {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Ref, s.Status, time.Duration(s.DurationMs)*time.Millisecond)
		}
	}
	var failed []SpecReport
	for _, s := range r.Specs {
		if s.Failed() {
			failed = append(failed, s)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(tw, "\nFAILED\tWHY")
		for _, s := range failed {
			why := s.Error
			if why == "" {
				why = count(finding.CountFailing(s.Findings), "failing finding")
				for _, f := range s.Findings {
					if f.Failing() {
						why += fmt.Sprintf("; %s: %s", f.Rule, f.Message)
						break
					}
				}
			}
			fmt.Fprintf(tw, "%s\t%s\n", s.Ref, why)
		}
	}
	tw.Flush()
}

// FailingSpecs names, for each spec of r with a failing finding (its last
// build failed a post-build check, or a cached image carries one), the
// failing rules and their messages. A spec that failed to build for another
// reason (say, a repository that did not answer) keeps its earlier image
// publishable.
func (r *Report) FailingSpecs() map[string]string {
	out := map[string]string{}
	for _, s := range r.Specs {
		if why := failingWhy(s); why != "" {
			out[s.Ref] = why
		}
	}
	for _, s := range r.EarlierFailing {
		if _, ok := out[s.Ref]; !ok {
			out[s.Ref] = "in an earlier build: " + failingWhy(s)
		}
	}
	return out
}

// failingWhy lists the failing findings of s ("" when none).
func failingWhy(s SpecReport) string {
	var why []string
	for _, f := range s.Findings {
		if f.Failing() {
			why = append(why, f.Rule+": "+f.Message)
		}
	}
	return strings.Join(why, "; ")
}

// count is "1 spec", "2 specs": n and the noun, plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
