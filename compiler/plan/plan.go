package plan

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/report"
)

// Slack is how far past the mean load a shard may be filled, in percent,
// before specs go to their next shard: the price of stability in balance.
const Slack = 10

// MaxShards is the most shards a build may be split into. Placing an item
// ranks every shard, so the cost grows with items × shards; a thousand
// machines is past any CI matrix (GitHub Actions runs 256 jobs of one).
const MaxShards = 1000

// Item is one spec to place and its cost (any unit, the same for all items).
type Item struct {
	Ref  string
	Cost int64
}

// Shard is one slice of a plan.
type Shard struct {
	// Index is the shard number, 0-based.
	Index int `json:"shard"`
	// Refs are the spec refs of the shard, sorted.
	Refs []string `json:"refs"`
	// Cost is the sum of the costs of Refs.
	Cost int64 `json:"cost"`
}

// units is the static cost estimate of an image: packages × platforms, at least 1.
func units(img compile.Image) int64 {
	return int64(max(1, len(img.Config.Contents.Packages)) * max(1, len(img.Config.Archs)))
}

// Estimate returns the cost of each image: packages × platforms, or with a
// previous report the milliseconds it took there. Specs the report lacks, or
// that failed or were cancelled there, cost their packages × platforms at
// the report's mean milliseconds per unit. Every cost is at least 1.
func Estimate(images []compile.Image, prev *report.Report) []Item {
	items := make([]Item, len(images))
	known := map[string]int64{}
	if prev != nil {
		for _, s := range prev.Specs {
			if s.Status == report.StatusBuilt || s.Status == report.StatusCached {
				known[s.Ref] = max(1, s.DurationMs)
			}
		}
	}
	var ms, u int64
	for _, img := range images {
		if d, ok := known[img.Ref]; ok {
			ms += d
			u += units(img)
		}
	}
	for i, img := range images {
		cost := units(img)
		if d, ok := known[img.Ref]; ok {
			cost = d
		} else if u > 0 {
			cost = max(1, cost*ms/u)
		}
		items[i] = Item{Ref: img.Ref, Cost: cost}
	}
	return items
}

// Split places items into shards (at least 1) as the package documentation
// describes. Every shard is returned, empty ones too, with its refs sorted.
func Split(items []Item, shards int) []Shard { return split(items, shards, Slack) }

// placed is an item on its way into a shard: its cost and its ranking of
// the shards, best first, by rendezvous weight.
type placed struct {
	ref    string
	cost   int64
	rank   []int
	weight []uint64
}

func split(items []Item, shards int, slack int64) []Shard {
	shards = max(1, shards)
	var total int64
	for _, it := range items {
		total += max(1, it.Cost)
	}
	// capacity = ceil(total × (100+slack) / (100 × shards))
	den := int64(100 * shards)
	capacity := (total*(100+slack) + den - 1) / den

	// Phase 1: every item in the first shard of its ranking.
	members := make([][]*placed, shards)
	load := make([]int64, shards)
	for _, it := range items {
		p := &placed{ref: it.Ref, cost: max(1, it.Cost), rank: make([]int, shards), weight: make([]uint64, shards)}
		for s := range shards {
			p.rank[s], p.weight[s] = s, weight(it.Ref, s)
		}
		slices.SortFunc(p.rank, func(a, b int) int {
			if c := cmp.Compare(p.weight[b], p.weight[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		members[p.rank[0]] = append(members[p.rank[0]], p)
		load[p.rank[0]] += p.cost
	}
	// Phase 2: shard by shard, an overloaded shard sheds the items that rank
	// it lowest until it is within capacity; each goes to the next shard of
	// its own ranking with room, or else to the least loaded shard if that
	// lowers the peak. Shards with room only ever take items, so one pass
	// leaves every shard within capacity but where nothing fits.
	for s := range shards {
		if load[s] <= capacity {
			continue
		}
		ms := members[s]
		slices.SortFunc(ms, func(a, b *placed) int {
			if c := cmp.Compare(a.weight[s], b.weight[s]); c != 0 {
				return c
			}
			return cmp.Compare(a.ref, b.ref)
		})
		keep := ms[:0:0]
		for _, p := range ms {
			to := -1
			if load[s] > capacity {
				for _, t := range p.rank {
					if t != s && load[t]+p.cost <= capacity {
						to = t
						break
					}
				}
				if to < 0 {
					least := -1
					for _, t := range p.rank {
						if t != s && (least < 0 || load[t] < load[least]) {
							least = t
						}
					}
					if least >= 0 && load[least]+p.cost < load[s] {
						to = least
					}
				}
			}
			if to < 0 {
				keep = append(keep, p)
				continue
			}
			load[s] -= p.cost
			load[to] += p.cost
			members[to] = append(members[to], p)
		}
		members[s] = keep
	}
	out := make([]Shard, shards)
	for s := range out {
		out[s] = Shard{Index: s, Refs: make([]string, 0, len(members[s])), Cost: load[s]}
		for _, p := range members[s] {
			out[s].Refs = append(out[s].Refs, p.ref)
		}
		slices.Sort(out[s].Refs)
	}
	return out
}

// weight is the rendezvous score of ref for shard s.
func weight(ref string, s int) uint64 {
	h := sha256.Sum256([]byte(ref + "\x00" + strconv.Itoa(s)))
	return binary.BigEndian.Uint64(h[:8])
}

// Select returns the images of shard i of n, in their given order.
func Select(images []compile.Image, prev *report.Report, i, n int) []compile.Image {
	plan := Split(Estimate(images, prev), n)
	if i < 0 || i >= len(plan) {
		return nil
	}
	in := map[string]bool{}
	for _, r := range plan[i].Refs {
		in[r] = true
	}
	var out []compile.Image
	for _, img := range images {
		if in[img.Ref] {
			out = append(out, img)
		}
	}
	return out
}
