package verify

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hic-build/hic/compiler/attest"
)

// Signer is the key the image's signatures verified with: the public key
// given to Verify, named as hic's messages name it (KeyID, the first 16 hex
// digits) and in full (Fingerprint, the SHA-256 of its PKIX DER encoding, as
// hic index --fingerprint takes it).
type Signer struct {
	KeyID       string `json:"keyId"`
	Fingerprint string `json:"fingerprint"`
}

// Waiver is a rule the hardening report waives, with the exception's reason.
type Waiver struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// Package is one installed package of the image, read from the apk
// databases of its platforms.
type Package struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Platforms []string `json:"platforms"`
}

// summarize fills the Result's Signer, Waived, Synthetic and (with
// Options.Packages) Packages from what the checks established.
func (v *verification) summarize() {
	if len(v.signedRepos) > 0 || len(v.opened) > 0 {
		id := v.opts.Verifier.KeyID()
		v.res.Signer = &Signer{KeyID: short16(id), Fingerprint: "sha256:" + id}
	}
	for _, st := range v.statements(v.t.Digest, attest.PredicateHardening) {
		var hr attest.HardeningReport
		if json.Unmarshal(st.Predicate, &hr) != nil {
			continue
		}
		for _, r := range hr.Rules {
			if r.Status == attest.StatusWaived {
				v.res.Waived = append(v.res.Waived, Waiver{Rule: r.Rule, Reason: r.Reason})
			}
		}
		v.res.Synthetic = hr.Synthetic
		break
	}
	if v.opts.Packages {
		v.res.Packages = packages(v.plats)
	}
}

// packages lists the installed packages of all platforms, one entry per
// name and version with the platforms that have it, sorted by name.
func packages(plats []*platformImage) []Package {
	type key struct{ name, version string }
	on := map[key][]string{}
	for _, p := range plats {
		for _, q := range p.db {
			k := key{q.Name, q.Version}
			on[k] = append(on[k], p.platform)
		}
	}
	out := make([]Package, 0, len(on))
	for k, ps := range on {
		out = append(out, Package{Name: k.name, Version: k.version, Platforms: ps})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// group merges problems that say the same thing about different places:
// "linux/amd64: no signed SPDX SBOM" and "linux/arm64: no signed SPDX SBOM"
// become "linux/amd64, linux/arm64: no signed SPDX SBOM"; a problem repeated
// word for word is given once with its count. The order of first occurrence
// is kept.
func group(bad []string) []string {
	type entry struct {
		what   string
		wheres []string
		count  int
	}
	var order []*entry
	by := map[string]*entry{}
	for _, b := range bad {
		where, what, ok := strings.Cut(b, ": ")
		if !ok || where == "" {
			where, what = "", b
		}
		e := by[what]
		if e == nil {
			e = &entry{what: what}
			by[what] = e
			order = append(order, e)
		}
		e.count++
		if where != "" && !slices.Contains(e.wheres, where) {
			e.wheres = append(e.wheres, where)
		}
	}
	out := make([]string, 0, len(order))
	for _, e := range order {
		s := e.what
		if len(e.wheres) > 0 {
			s = strings.Join(e.wheres, ", ") + ": " + s
		}
		if repeats := e.count - max(len(e.wheres), 1); repeats > 0 {
			s += fmt.Sprintf(" (%d times)", e.count)
		}
		out = append(out, s)
	}
	return out
}
