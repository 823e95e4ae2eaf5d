package vex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/universe"
)

// Versions tells which versions of a package exist: the catalog's stream
// pins, the package universe, a mirror. ok is false when the source knows
// nothing of the package.
type Versions interface {
	PackageVersions(pkg string) (versions []string, ok bool)
}

// VersionSet is a Versions held in a map: package -> versions.
type VersionSet map[string][]string

func (s VersionSet) PackageVersions(pkg string) ([]string, bool) {
	v, ok := s[pkg]
	return v, ok
}

// Add records that version of pkg exists.
func (s VersionSet) Add(pkg, version string) {
	if !slices.Contains(s[pkg], version) {
		s[pkg] = append(s[pkg], version)
	}
}

var (
	cveID  = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)
	ghsaID = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
	apkVer = regexp.MustCompile(`^[0-9][0-9A-Za-z._+~]*-r[0-9]+$`)
)

// ValidID reports whether id looks like a CVE or GHSA identifier.
func ValidID(id string) bool { return cveID.MatchString(id) || ghsaID.MatchString(id) }

// Check vets the advisories: an id that looks like a CVE or GHSA id, once per
// package; a status and justification OpenVEX knows, with the fields each
// status needs and none it forbids; a fixed version that exists (per
// versions, when it knows the package); timestamps in order. Every finding
// points at the field at fault.
func Check(adv *Advisories, versions Versions) []finding.Finding {
	var fs []finding.Finding
	for _, a := range adv.All() {
		fs = append(fs, checkOne(a, versions)...)
	}
	for pkg, list := range adv.ByPackage {
		seen := map[string]*Advisory{}
		for _, a := range list {
			if a.ID == "" {
				continue
			}
			if first, dup := seen[a.ID]; dup {
				f := a.finding("id", "%s is stated twice for %s (first at %s)", a.ID, pkg, first.Pos)
				f.Hint = "keep one advisory per vulnerability and package; change its status and set updated"
				fs = append(fs, f)
				continue
			}
			seen[a.ID] = a
		}
	}
	finding.Sort(fs)
	return fs
}

func checkOne(a *Advisory, versions Versions) []finding.Finding {
	var fs []finding.Finding
	add := func(field, hint, format string, args ...any) {
		f := a.finding(field, format, args...)
		f.Hint = hint
		fs = append(fs, f)
	}
	switch {
	case a.ID == "":
		add("id", `name the vulnerability: id: "CVE-2026-12345" or "GHSA-xxxx-xxxx-xxxx"`, "the advisory has no id")
	case !ValidID(a.ID):
		add("id", `write a CVE id (CVE-2026-12345) or a GitHub advisory id (GHSA-xxxx-xxxx-xxxx)`, "id %q is neither a CVE nor a GHSA id", a.ID)
	}
	for _, al := range a.Aliases {
		if !ValidID(al) {
			add("aliases", `aliases are CVE or GHSA ids`, "alias %q is neither a CVE nor a GHSA id", al)
		}
	}
	st := govex.Status(a.Status)
	if !st.Valid() {
		add("status", "status is one of "+strings.Join(govex.Statuses(), ", "), "unknown status %q", a.Status)
		return fs
	}
	justs := "justification is one of " + strings.Join(govex.Justifications(), ", ")
	switch st {
	case govex.StatusNotAffected:
		switch {
		case a.Justification == "":
			add("status", justs, "status not_affected needs a justification")
		case !govex.Justification(a.Justification).Valid():
			add("justification", justs, "unknown justification %q", a.Justification)
		}
	default:
		if a.Justification != "" {
			add("justification", "remove justification, or set status: \"not_affected\"", "a justification is only for status not_affected, not %s", st)
		}
		if a.Impact != "" {
			add("impact", "remove impact, or set status: \"not_affected\"", "impact explains status not_affected, not %s", st)
		}
	}
	if st == govex.StatusAffected && a.Action == "" {
		add("status", `say what users should do: action: "upgrade to ... / disable ..."`, "status affected needs an action")
	}
	if st != govex.StatusAffected && a.Action != "" {
		add("action", `remove action, or set status: "affected"`, "an action is only for status affected, not %s", st)
	}
	switch {
	case st == govex.StatusFixed && a.Fixed == "":
		add("status", `name the first fixed version: fixed: "1.2.3-r1"`, "status fixed needs the fixed version")
	case st != govex.StatusFixed && a.Fixed != "":
		add("fixed", `remove fixed, or set status: "fixed"`, "a fixed version is only for status fixed, not %s", st)
	case a.Fixed != "" && !apkVer.MatchString(a.Fixed):
		add("fixed", `write an APK version with its release: "1.2.3-r1"`, "fixed version %q is not an APK version", a.Fixed)
	case a.Fixed != "" && versions != nil:
		if known, ok := versions.PackageVersions(a.Package); ok && !slices.Contains(known, a.Fixed) {
			add("fixed", "name a version the catalog's streams pin or the package universe lists: "+strings.Join(known, ", "),
				"fixed version %s of %s does not exist", a.Fixed, a.Package)
		}
	}
	if a.Published.IsZero() {
		if _, ok := a.fields["published"]; !ok {
			add("", `say when the statement was made: published: "2026-05-01"`, "the advisory has no published date")
		}
	}
	if !a.Updated.IsZero() && !a.Published.IsZero() && a.Updated.Before(a.Published) {
		add("updated", "updated is on or after published", "updated %s is before published %s", a.Updated.Format(timeFmt), a.Published.Format(timeFmt))
	}
	return fs
}

const timeFmt = "2006-01-02T15:04:05Z07:00"

// Vet loads and checks the advisories of the catalog at root: the findings
// of Load and Check. A fixed version is judged against the versions the
// catalog's specs pin and, for each distro of the specs that has one, the
// package universe (compiler/universe): the one in universes (as the
// front end read them), else read from the catalog.
func Vet(ctx context.Context, root string, specs []*spec.Spec, universes map[string]*universe.Universe) (*Advisories, []finding.Finding, error) {
	adv, finds, err := Load(ctx, root)
	if err != nil || len(adv.ByPackage) == 0 {
		return adv, finds, err
	}
	known := VersionSet{}
	distros := map[string]bool{}
	for _, s := range specs {
		distros[s.Distro] = true
		for _, p := range append([]string{s.MainPackage}, s.Packages...) {
			if name, version, ok := strings.Cut(p, "="); ok {
				known.Add(name, version)
			}
		}
	}
	for d := range distros {
		u := universes[d]
		if u == nil {
			var err error
			u, err = universe.ReadDir(universe.Dir(root), d)
			if errors.Is(err, universe.ErrNotExist) || errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("advisories: %w", err)
			}
		}
		for pkg := range adv.ByPackage {
			if p := u.Lookup(pkg); p != nil {
				for _, v := range p.Versions {
					known.Add(pkg, v)
				}
			}
		}
	}
	return adv, append(finds, Check(adv, known)...), nil
}
