package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/report"
)

// Plan is a split of a selection into shards, with the digest that names it.
type Plan struct {
	// Digest is "sha256:<hex>" over everything the split depends on: the
	// number of shards and, for every spec of the selection, its ref, the
	// digest of its compiled spec and its cost. Shards built from the same
	// catalog, selection, N and cost estimate have the same digest; any
	// other change gives another.
	Digest string  `json:"plan"`
	Shards []Shard `json:"shards"`
}

// New plans images into n shards, costs estimated as Estimate does.
func New(images []compile.Image, prev *report.Report, n int) (Plan, error) {
	items := Estimate(images, prev)
	h := sha256.New()
	fmt.Fprintf(h, "hic plan v1\nshards %d\n", max(1, n))
	lines := make([]string, len(images))
	for i, img := range images {
		d, err := compile.Digest(img)
		if err != nil {
			return Plan{}, fmt.Errorf("plan: %s: %w", img.Ref, err)
		}
		lines[i] = fmt.Sprintf("%s %s %d\n", img.Ref, d, items[i].Cost)
	}
	slices.Sort(lines)
	h.Write([]byte(strings.Join(lines, "")))
	return Plan{Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Shards: Split(items, n)}, nil
}
