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
//   - the specs are merged by ref and sorted; a ref in two reports must have
//     the same result in both (it is then kept once), else it is an error;
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
	var errs []string
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
			b, err := json.Marshal(s)
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
