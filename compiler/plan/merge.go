package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hic-build/hic/compiler/report"
)

// Source is one report to merge and the name errors call it by (its file).
type Source struct {
	Name   string
	Report *report.Report
}

// Merge joins shard reports into the report of the whole build:
//
//   - the hic and apko versions and the signing key must agree (a report
//     without specs, from an empty shard, says nothing of them and is exempt);
//   - the status is completed when every shard completed, else cancelled;
//   - the duration is the longest shard's (shards run side by side);
//   - shard reports (hic build --shard) must all be of one plan (the same
//     plan digest and shard count), each shard exactly once, none missing:
//     a lost or repeated shard would silently lose or double specs; the
//     merged report names the plan. Reports of plain builds (no --shard)
//     merge by ref only, and cannot be mixed with shard reports;
//   - the specs are merged by ref and sorted; a ref in two reports must have
//     the same result in both, timings aside (it is then kept once), else it
//     is an error;
//   - the counts are the sum of the shards' counts, less those of the
//     duplicates kept once.
func Merge(srcs []Source) (*report.Report, error) {
	if len(srcs) == 0 {
		return nil, errors.New("merge: no reports")
	}
	first := srcs[0]
	for _, src := range srcs {
		if len(src.Report.Specs) > 0 {
			first = src
			break
		}
	}
	out := &report.Report{
		Status:      report.StatusCompleted,
		HicVersion:  first.Report.HicVersion,
		ApkoVersion: first.Report.ApkoVersion,
		Signed:      first.Report.Signed,
		KeyID:       first.Report.KeyID,
		Specs:       []report.SpecReport{},
	}
	type seen struct {
		from string
		spec report.SpecReport
		json []byte
	}
	byRef := map[string]seen{}
	plan, errs := checkShards(srcs)
	out.Plan = plan
	for _, src := range srcs {
		r := src.Report
		checks := []struct{ what, want, got string }{
			{"hic version", first.Report.HicVersion, r.HicVersion},
			{"apko version", first.Report.ApkoVersion, r.ApkoVersion},
			{"signed", fmt.Sprint(first.Report.Signed), fmt.Sprint(r.Signed)},
			{"key", first.Report.KeyID, r.KeyID},
		}
		if len(r.Specs) == 0 {
			checks = nil
		}
		for _, c := range checks {
			if c.want != c.got {
				errs = append(errs, fmt.Sprintf("%s: %s %q, but %s has %q", src.Name, c.what, c.got, first.Name, c.want))
			}
		}
		if r.Status != report.StatusCompleted {
			out.Status = report.StatusCancelled
		}
		out.DurationMs = max(out.DurationMs, r.DurationMs)
		out.Counts.Add(r.Counts, 1)
		for _, s := range r.Specs {
			b, err := json.Marshal(untimed(s))
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", src.Name, s.Ref, err)
			}
			prev, dup := byRef[s.Ref]
			switch {
			case !dup:
				byRef[s.Ref] = seen{src.Name, s, b}
				out.Specs = append(out.Specs, s)
			case string(prev.json) == string(b):
				out.Counts.Add(report.Count(s), -1)
			default:
				errs = append(errs, fmt.Sprintf("%s: in %s (%s) and %s (%s) with different results", s.Ref, prev.from, describe(prev.spec), src.Name, describe(s)))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("merge: %s", strings.Join(errs, "; "))
	}
	slices.SortStableFunc(out.Specs, func(a, b report.SpecReport) int { return strings.Compare(a.Ref, b.Ref) })
	return out, nil
}

func describe(s report.SpecReport) string {
	d := s.Status
	if s.ImageDigest != "" {
		d += " " + s.ImageDigest
	}
	return d
}

// checkShards checks that srcs are every shard of one plan, once each, and
// returns the plan's digest; or that none is a shard report.
func checkShards(srcs []Source) (plan string, errs []string) {
	var sharded, plain []string
	var first *report.Shard
	var firstName string
	for _, src := range srcs {
		sh := src.Report.Shard
		if sh == nil {
			plain = append(plain, src.Name)
			continue
		}
		sharded = append(sharded, src.Name)
		if first == nil {
			first, firstName = sh, src.Name
		}
	}
	if first == nil {
		return "", nil
	}
	if len(plain) > 0 {
		return "", []string{fmt.Sprintf("%s: not a shard report (built without --shard), but %s is shard %d/%d of plan %s",
			strings.Join(plain, ", "), firstName, first.Index, first.Count, first.Plan)}
	}
	byIndex := map[int]string{}
	for _, src := range srcs {
		sh := src.Report.Shard
		switch {
		case sh.Plan != first.Plan || sh.Count != first.Count:
			errs = append(errs, fmt.Sprintf("%s: shard %d/%d of plan %s, but %s is of plan %s (%d shards): reports of different plans (catalog, selection or shard count changed between the shard builds)",
				src.Name, sh.Index, sh.Count, sh.Plan, firstName, first.Plan, first.Count))
			continue
		case sh.Index < 0 || sh.Index >= sh.Count:
			errs = append(errs, fmt.Sprintf("%s: shard %d/%d is out of range", src.Name, sh.Index, sh.Count))
			continue
		}
		if prev, dup := byIndex[sh.Index]; dup {
			errs = append(errs, fmt.Sprintf("shard %d/%d twice: %s and %s", sh.Index, sh.Count, prev, src.Name))
			continue
		}
		byIndex[sh.Index] = src.Name
	}
	if len(errs) > 0 {
		return "", errs
	}
	var missing []string
	for i := range first.Count {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, first.Count))
		}
	}
	if len(missing) > 0 {
		return "", []string{fmt.Sprintf("shard %s of plan %s missing: no report given for %s", strings.Join(missing, ", "), first.Plan, plural(len(missing), "it", "them"))}
	}
	return first.Plan, nil
}

// untimed is s without its timings, which differ between two builds of the
// same result.
func untimed(s report.SpecReport) report.SpecReport {
	s.DurationMs = 0
	if len(s.Tests) > 0 {
		s.Tests = slices.Clone(s.Tests)
		for i := range s.Tests {
			s.Tests[i].DurationMs = 0
		}
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
