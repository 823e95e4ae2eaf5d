package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/report"
)

// items returns n items with costs from a fixed, uneven sequence.
func items(n int) []Item {
	out := make([]Item, n)
	for i := range out {
		out[i] = Item{Ref: fmt.Sprintf("img%04d:1-wolfi-runtime", i), Cost: int64(6 + (i*37)%55)}
	}
	return out
}

// where maps each ref of a plan to its shard.
func where(p []Shard) map[string]int {
	m := map[string]int{}
	for _, s := range p {
		for _, r := range s.Refs {
			m[r] = s.Index
		}
	}
	return m
}

func moved(a, b []Shard) int {
	wa, n := where(a), 0
	for r, s := range where(b) {
		if i, ok := wa[r]; ok && i != s {
			n++
		}
	}
	return n
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		items  []Item
		shards int
		// over is how many percent of the mean the largest shard may exceed
		// the capacity by: 0 where every spec finds room.
		over int64
	}{
		{"one shard", items(10), 1, 0},
		{"zero shards is one", items(10), 0, 0},
		{"more shards than specs", items(3), 5, 400},
		{"no specs", nil, 3, 0},
		{"four shards", items(500), 4, 0},
		{"sixteen shards", items(1200), 16, 0},
		// About 5 specs a shard: some find no room and land a little over.
		{"matrix limit", items(1200), 256, Slack},
		{"zero costs count as one", []Item{{"a:1", 0}, {"b:1", 0}, {"c:1", 0}, {"d:1", 0}}, 2, 0},
		{"one spec costlier than the mean", []Item{{"big:1", 100}, {"a:1", 1}, {"b:1", 1}, {"c:1", 1}}, 2, 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Split(tc.items, tc.shards)
			if want := max(1, tc.shards); len(got) != want {
				t.Fatalf("%d shards, want %d", len(got), want)
			}
			var all []string
			var total, most int64
			for i, s := range got {
				if s.Index != i {
					t.Errorf("shard %d has index %d", i, s.Index)
				}
				if !slices.IsSorted(s.Refs) || s.Refs == nil {
					t.Errorf("shard %d refs not sorted or nil: %v", i, s.Refs)
				}
				all = append(all, s.Refs...)
				total += s.Cost
				most = max(most, s.Cost)
			}
			var want []string
			var wantTotal int64
			for _, it := range tc.items {
				want = append(want, it.Ref)
				wantTotal += max(1, it.Cost)
			}
			slices.Sort(all)
			slices.Sort(want)
			if diff := cmp.Diff(want, all); diff != "" {
				t.Errorf("refs placed (-want +got):\n%s", diff)
			}
			if total != wantTotal {
				t.Errorf("total cost %d, want %d", total, wantTotal)
			}
			den := int64(100 * len(got))
			if bound := (total*(100+Slack+tc.over) + den - 1) / den; most > bound {
				t.Errorf("largest shard costs %d, want at most %d (mean %d)", most, bound, total/int64(len(got)))
			}
			if diff := cmp.Diff(got, Split(slices.Clone(tc.items), tc.shards)); diff != "" {
				t.Errorf("second Split differs (-first +second):\n%s", diff)
			}
			rev := slices.Clone(tc.items)
			slices.Reverse(rev)
			if diff := cmp.Diff(got, Split(rev, tc.shards)); diff != "" {
				t.Errorf("Split depends on the input order (-first +reversed):\n%s", diff)
			}
		})
	}
}

// TestSplitGolden pins one small plan: every machine of a sharded build must
// compute the same plan, so the algorithm may not drift unnoticed.
func TestSplitGolden(t *testing.T) {
	got := Split([]Item{{"a:1", 5}, {"b:1", 4}, {"c:1", 3}, {"d:1", 3}, {"e:1", 2}, {"f:1", 1}}, 3)
	want := []Shard{
		{Index: 0, Refs: []string{"b:1", "d:1"}, Cost: 7},
		{Index: 1, Refs: []string{"c:1", "e:1"}, Cost: 5},
		{Index: 2, Refs: []string{"a:1", "f:1"}, Cost: 6},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSplitStable(t *testing.T) {
	base := items(1200)
	tests := []struct {
		name     string
		shards   int
		other    []Item
		otherN   int
		maxMoved int
	}{
		{"one spec added", 16, append(slices.Clone(base), Item{"new:1-wolfi-runtime", 40}), 16, 12},
		{"one spec removed", 16, slices.Clone(base[1:]), 16, 12},
		{"ten specs added", 64, append(slices.Clone(base), items(1210)[1200:]...), 64, 40},
		{"a cost changed", 16, append([]Item{{base[0].Ref, 60}}, base[1:]...), 16, 12},
		// Going from N to N+1 shards must move about 1/(N+1) of the specs.
		{"4 to 5 shards", 4, base, 5, 1200 * 2 / 5},
		{"16 to 17 shards", 16, base, 17, 1200 * 3 / 2 / 17},
		{"64 to 65 shards", 64, base, 65, 1200 * 3 / 65},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := moved(Split(base, tc.shards), Split(tc.other, tc.otherN))
			if n > tc.maxMoved {
				t.Errorf("%d specs moved, want at most %d", n, tc.maxMoved)
			}
		})
	}
}

func image(ref string, packages, archs int) compile.Image {
	img := compile.Image{Ref: ref}
	for i := range packages {
		img.Config.Contents.Packages = append(img.Config.Contents.Packages, fmt.Sprintf("p%d", i))
	}
	for range archs {
		img.Config.Archs = append(img.Config.Archs, "amd64")
	}
	return img
}

func TestEstimate(t *testing.T) {
	imgs := []compile.Image{image("a:1", 3, 2), image("b:1", 5, 1), image("c:1", 0, 0), image("d:1", 2, 2), image("e:1", 1, 1)}
	prev := &report.Report{Specs: []report.SpecReport{
		{Ref: "a:1", Status: report.StatusBuilt, DurationMs: 6000},
		{Ref: "b:1", Status: report.StatusCached, DurationMs: 0},
		{Ref: "d:1", Status: report.StatusFailed, DurationMs: 5},
		{Ref: "gone:1", Status: report.StatusBuilt, DurationMs: 99999},
	}}
	tests := []struct {
		name string
		prev *report.Report
		want []Item
	}{
		{"packages times platforms", nil, []Item{{"a:1", 6}, {"b:1", 5}, {"c:1", 1}, {"d:1", 4}, {"e:1", 1}}},
		// a and b are known: 6001 ms for 11 units, 545 ms a unit for the rest.
		{"durations of a previous build", prev, []Item{{"a:1", 6000}, {"b:1", 1}, {"c:1", 545}, {"d:1", 2182}, {"e:1", 545}}},
		{"a report that knows none", &report.Report{}, []Item{{"a:1", 6}, {"b:1", 5}, {"c:1", 1}, {"d:1", 4}, {"e:1", 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Estimate(imgs, tc.prev)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanAndSelect(t *testing.T) {
	var imgs []compile.Image
	for i := range 40 {
		imgs = append(imgs, image(fmt.Sprintf("img%02d:1-wolfi-runtime", i), 1+i%7, 2))
	}
	for _, n := range []int{1, 3, 7, 50} {
		p, err := New(imgs, nil, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Shards) != n {
			t.Fatalf("New(%d): %d shards", n, len(p.Shards))
		}
		var union []string
		for i := range n {
			var refs []string
			for _, img := range Select(imgs, nil, i, n) {
				refs = append(refs, img.Ref)
			}
			if diff := cmp.Diff(p.Shards[i].Refs, refs, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" {
				t.Errorf("Select(%d/%d) differs from Plan (-plan +select):\n%s", i, n, diff)
			}
			union = append(union, refs...)
		}
		slices.Sort(union)
		var want []string
		for _, img := range imgs {
			want = append(want, img.Ref)
		}
		if diff := cmp.Diff(want, union); diff != "" {
			t.Errorf("shards of %d do not cover the images once (-want +got):\n%s", n, diff)
		}
	}
	if got := Select(imgs, nil, 3, 3); got != nil {
		t.Errorf("Select(3/3) = %v, want nil", got)
	}
}
