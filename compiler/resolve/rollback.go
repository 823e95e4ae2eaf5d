package resolve

import (
	"fmt"
	"sort"
	"strings"

	"chainguard.dev/apko/pkg/apk/apk"
)

// RuleNoRollback is the rule a package moving back to a lower version than
// the spec's previous lock breaks. A stream states that a rollback is
// intended with an exception {rule: "no-rollback", reason: "..."}.
const RuleNoRollback = "no-rollback"

// Rollback is one package whose version is lower than in the previous lock.
type Rollback struct {
	Name, Arch, From, To, Repository string
}

func (r Rollback) String() string {
	return fmt.Sprintf("%s moves back from %s to %s (%s, from %s)", r.Name, r.From, r.To, r.Arch, r.Repository)
}

// Rollbacks compares a new lock with the spec's previous one and lists the
// packages, per architecture, whose version went down. Packages added or
// removed are not rollbacks; a version either side cannot parse is compared
// as a string would not tell, so it is reported when the two differ and
// the new one sorts lower.
func Rollbacks(prev, next *Lock) []Rollback {
	if prev == nil || next == nil {
		return nil
	}
	var out []Rollback
	for arch, pkgs := range next.Archs {
		old := map[string]Package{}
		for _, p := range prev.Archs[arch] {
			old[p.Name] = p
		}
		for _, p := range pkgs {
			o, ok := old[p.Name]
			if !ok || o.Version == p.Version {
				continue
			}
			if versionLess(p.Version, o.Version) {
				out = append(out, Rollback{Name: p.Name, Arch: arch, From: o.Version, To: p.Version, Repository: p.Repository})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Arch < out[j].Arch
	})
	return out
}

func versionLess(a, b string) bool {
	va, errA := apk.ParseVersion(a)
	vb, errB := apk.ParseVersion(b)
	if errA != nil || errB != nil {
		return a < b
	}
	return apk.CompareVersions(va, vb) < 0
}

// RollbackError refuses a lock with rollbacks.
type RollbackError struct {
	Ref       string
	Rollbacks []Rollback
}

func (e *RollbackError) Error() string {
	parts := make([]string, len(e.Rollbacks))
	for i, r := range e.Rollbacks {
		parts[i] = r.String()
	}
	return fmt.Sprintf("%s: %s: package %s, lower than in the spec's previous lock: a repository serving an older version is a rollback attack unless intended; if it is, add {rule: %q, reason: \"...\"} to the stream's exceptions",
		e.Ref, RuleNoRollback, strings.Join(parts, "; "), RuleNoRollback)
}
