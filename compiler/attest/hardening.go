package attest

import (
	"errors"
	"slices"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/smoke"
)

// Rule statuses in the hardening report.
const (
	StatusPass   = "pass"
	StatusFail   = "fail"
	StatusWaived = "waived"
)

// Hardening are the inputs of a hardening report.
type Hardening struct {
	// Subjects are the image index and the platform manifests.
	Subjects []Subject
	// SpecRef is the spec the report is about.
	SpecRef string
	// Rules are the ids of every rule checked, static and post-build.
	Rules []string
	// Exceptions are the spec's exceptions (compile.Policy.Exceptions).
	Exceptions []compile.Exception
	// Findings are the findings of the static and post-build checks for
	// this spec, waived ones included.
	Findings []finding.Finding
	// Tests are the spec's smoke-test results (compiler/smoke), per platform.
	Tests []smoke.Result
	// Synthetic says the image was built from a generated mirror.
	Synthetic bool
}

// HardeningReport is the predicate of https://hic.dev/attestations/hardening/v1.
type HardeningReport struct {
	// Spec is the spec ref.
	Spec string `json:"spec"`
	// Result is "pass" when no rule failed, else "fail".
	Result string `json:"result"`
	// Rules has one entry per rule checked, sorted by id.
	Rules []RuleResult `json:"rules"`
	// Findings are all findings, waived ones included, in finding.Sort order.
	Findings []finding.Finding `json:"findings"`
	// Tests are the smoke-test results: passed, failed, or not-run (never
	// counted as passed); a failed test is also a failing smoke-test finding.
	Tests []smoke.Result `json:"tests,omitempty"`
	// Synthetic is true when the image was built from a generated mirror
	// (hic mirror): its packages have synthetic contents, so the report is
	// about the image's shape, not about real distro software.
	Synthetic bool `json:"synthetic,omitempty"`
}

// RuleResult is the outcome of one rule.
type RuleResult struct {
	Rule string `json:"rule"`
	// Status is pass, fail or waived. A rule fails when a finding for it
	// fails (finding.Failing); it is waived when the spec has an exception
	// for it, or when all its findings are waived; else it passes (warnings
	// do not fail a rule; they are listed in Findings).
	Status string `json:"status"`
	// Reason is the exception's reason for a waived rule.
	Reason string `json:"reason,omitempty"`
	// Findings counts the findings for the rule.
	Findings int `json:"findings,omitempty"`
}

// HardeningReportOf evaluates every rule. Rules that have findings or
// exceptions but are missing from in.Rules are added, so nothing is lost.
func HardeningReportOf(in Hardening) (*HardeningReport, error) {
	if in.SpecRef == "" {
		return nil, errors.New("hardening report: no spec ref")
	}
	rules := slices.Clone(in.Rules)
	for _, f := range in.Findings {
		rules = append(rules, f.Rule)
	}
	for _, e := range in.Exceptions {
		rules = append(rules, e.Rule)
	}
	slices.Sort(rules)
	rules = slices.Compact(rules)

	findings := slices.Clone(in.Findings)
	finding.Sort(findings)
	if findings == nil {
		findings = []finding.Finding{}
	}
	r := &HardeningReport{Spec: in.SpecRef, Result: StatusPass, Rules: []RuleResult{}, Findings: findings, Tests: in.Tests, Synthetic: in.Synthetic}
	for _, id := range rules {
		if id == "" {
			continue
		}
		rr := RuleResult{Rule: id, Status: StatusPass}
		waived := 0
		for _, f := range findings {
			if f.Rule != id {
				continue
			}
			rr.Findings++
			switch {
			case f.Failing():
				rr.Status = StatusFail
			case f.Waived:
				waived++
				if rr.Reason == "" {
					rr.Reason = f.Reason
				}
			}
		}
		if rr.Status != StatusFail {
			if e, ok := (compile.Policy{Exceptions: in.Exceptions}).Waives(id); ok {
				rr.Status, rr.Reason = StatusWaived, e.Reason
			} else if waived > 0 {
				rr.Status = StatusWaived
			}
		}
		if rr.Status != StatusWaived {
			rr.Reason = ""
		}
		if rr.Status == StatusFail {
			r.Result = StatusFail
		}
		r.Rules = append(r.Rules, rr)
	}
	return r, nil
}

// HardeningStatement builds the hardening report statement.
func HardeningStatement(in Hardening) (*Statement, error) {
	r, err := HardeningReportOf(in)
	if err != nil {
		return nil, err
	}
	return NewStatement(in.Subjects, PredicateHardening, r)
}
