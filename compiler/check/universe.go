package check

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/universe"
)

// Rules checked against the distro's package universe. A spec on a distro
// without a universe (Options.Universes has no entry) is not checked.
const (
	RulePackageExists      = "package-exists"
	RulePackageVersion     = "package-version"
	RuleEntrypointProvided = "entrypoint-provided"
	RuleInstallScripts     = "install-scripts"
	RuleUniverseVerified   = "universe-verified"
)

// platformArch maps an OCI platform to its apk architecture.
var platformArch = map[string]string{
	"linux/amd64": "x86_64", "linux/arm64": "aarch64", "linux/arm/v7": "armv7", "linux/arm/v6": "armhf",
	"linux/386": "x86", "linux/ppc64le": "ppc64le", "linux/s390x": "s390x", "linux/riscv64": "riscv64",
}

func (c *checker) universe() {
	u := c.opts.Universes[c.s.Distro]
	if u == nil {
		return
	}
	snap := snapshot(u)
	var unverified []string
	for i, p := range c.s.Packages {
		name := spec.PackageName(p)
		main := p == c.s.MainPackage
		nameAt, versionAt := "packages."+fmt.Sprint(i), "packages."+fmt.Sprint(i)
		if main {
			nameAt, versionAt = "package", "version"
		}
		pkg := u.Lookup(name)
		switch {
		case pkg == nil:
			c.report(RulePackageExists, nameAt, "%s", c.unknownPackage(u, name, snap))
			continue
		case pkg.Removed != "":
			msg := fmt.Sprintf("package %q left %s on %s (its last version was %s)", name, u.Distro, pkg.Removed, pkg.Newest())
			if elsewhere := c.otherDistros(name); elsewhere != "" {
				msg += "; it is in " + elsewhere
			} else if s := u.Suggest(name, 3); len(s) > 0 {
				msg += "; " + didYouMean(s)
			}
			c.report(RulePackageExists, nameAt, "%s", msg)
			continue
		}
		if missing := missingArchs(u, pkg, c.s.Platforms); len(missing) > 0 {
			c.report(RulePackageExists, nameAt, "package %q is not built for %s in %s (it has %s)", name, strings.Join(missing, ", "), u.Distro, strings.Join(archsOf(u, pkg), ", "))
		}
		if version, pinned := pinnedVersion(p); pinned && !pkg.Has(version) {
			c.report(RulePackageVersion, versionAt, "%s", versionMessage(u, pkg, version, snap))
		}
		// A package of an unverified source rests wholly on unverified
		// facts; an entry marked verified=no only where vet uses what is
		// unverified about it (its programs, below).
		if sourceUnverified(u, pkg) {
			unverified = append(unverified, name)
		}
	}
	if missing := c.unsatisfied(u); len(missing) > 0 {
		c.report(RulePackageExists, "package", "the image's packages depend on %s, which nothing in %s provides: the image cannot be installed", strings.Join(missing, ", "), snapshot(u))
	}
	for _, p := range c.entrypoint(u) {
		if p.Unverified && !slices.Contains(unverified, p.Name) {
			unverified = append(unverified, p.Name+" (the program the image starts)")
		}
	}
	if len(unverified) > 0 {
		c.warn(RuleUniverseVerified, "package", "rests on universe entries that could not be verified against %s's real data: %s", u.Distro, strings.Join(unverified, ", "))
	}
}

// unsatisfied lists the dependencies of the spec's package closure that
// nothing in u provides, once every package itself is known (otherwise
// package-exists has said what is wrong).
func (c *checker) unsatisfied(u *universe.Universe) []string {
	for _, p := range c.s.Packages {
		if l := u.Lookup(spec.PackageName(p)); l == nil || l.Removed != "" {
			return nil
		}
	}
	_, missing := u.Closure(c.s.Packages...)
	return missing
}

// snapshot names a universe's snapshot for messages: "wolfi (snapshot 2026-08-22)".
func snapshot(u *universe.Universe) string {
	if len(u.Sources) > 0 && u.Sources[0].Date != "" {
		return fmt.Sprintf("%s (snapshot %s)", u.Distro, u.Sources[0].Date)
	}
	return u.Distro
}

func (c *checker) unknownPackage(u *universe.Universe, name, snap string) string {
	msg := fmt.Sprintf("package %q is not in %s", name, snap)
	if s := u.Suggest(name, 3); len(s) > 0 {
		msg += "; " + didYouMean(s)
	}
	if elsewhere := c.otherDistros(name); elsewhere != "" {
		msg += "; it is in " + elsewhere
	}
	return msg
}

func didYouMean(s []universe.Suggestion) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = fmt.Sprintf("%q (%s)", x.Name, x.Reason)
	}
	return "did you mean " + strings.Join(parts, ", ") + "?"
}

// otherDistros lists the other distros whose universe has name installable.
func (c *checker) otherDistros(name string) string {
	var out []string
	for d, u := range c.opts.Universes {
		if d == c.s.Distro {
			continue
		}
		if p := u.Lookup(name); p != nil && p.Removed == "" {
			out = append(out, fmt.Sprintf("%s (%s)", d, p.Newest()))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func pinnedVersion(p string) (string, bool) {
	_, v, ok := strings.Cut(p, "=")
	if !ok || v == "" || strings.ContainsAny(v, "<>~*") {
		return "", false
	}
	return v, true
}

func versionMessage(u *universe.Universe, pkg *universe.Package, version, snap string) string {
	msg := fmt.Sprintf("%s %s is not a version %s has", pkg.Name, version, snap)
	up, _, _ := strings.Cut(version, "-r")
	var sameUpstream []string
	for _, v := range pkg.Versions {
		if vu, _, _ := strings.Cut(v, "-r"); vu == up {
			sameUpstream = append(sameUpstream, v)
		}
	}
	switch {
	case len(sameUpstream) > 0:
		msg += fmt.Sprintf(": %s was built as %s (wrong epoch)", up, strings.Join(sameUpstream, ", "))
	case universe.SortVersions([]string{version, pkg.Newest()})[0] == version:
		msg += fmt.Sprintf(": it is newer than the newest, %s; refresh the universe (hic index import) if it was released since", pkg.Newest())
	default:
		msg += "; nearest: " + strings.Join(pkg.Nearest(version, 2), ", ")
	}
	if n := pkg.Newest(); n != "" {
		msg += fmt.Sprintf("; newest: %s (hic bump moves the pin there)", n)
	}
	return msg
}

func missingArchs(u *universe.Universe, pkg *universe.Package, platforms []string) []string {
	have := archsOf(u, pkg)
	if len(have) == 0 {
		return nil // the universe does not say
	}
	var missing []string
	for _, pl := range platforms {
		if a, ok := platformArch[pl]; ok && !slices.Contains(have, a) && !slices.Contains(have, "noarch") {
			missing = append(missing, a)
		}
	}
	return missing
}

func archsOf(u *universe.Universe, pkg *universe.Package) []string {
	if len(pkg.Archs) > 0 {
		return pkg.Archs
	}
	return u.Archs
}

func sourceUnverified(u *universe.Universe, pkg *universe.Package) bool {
	for i, s := range u.Sources {
		if s.Name == pkg.Source || (pkg.Source == "" && i == 0) {
			return s.Unverified
		}
	}
	return false
}

// wrappers are programs that start the program their arguments name.
var wrappers = []string{"tini", "dumb-init", "catatonit", "su-exec", "gosu", "env", "s6-svscan"}

// entrypoint checks that the programs the image starts are shipped by its
// package closure: the entrypoint's, and the cmd's when it is a program
// (in a bin directory, or after a wrapper such as tini). It returns the
// packages that ship them.
func (c *checker) entrypoint(u *universe.Universe) []*universe.Package {
	for _, p := range c.s.Packages {
		if l := u.Lookup(spec.PackageName(p)); l == nil || l.Removed != "" {
			return nil // package-exists reports it; the closure would be wrong
		}
	}
	var closure, shippers []*universe.Package
	check := func(prog, at string) {
		if closure == nil {
			closure, _ = u.Closure(c.s.Packages...)
		}
		if p := c.provided(u, closure, prog, at); p != nil {
			shippers = append(shippers, p)
		}
	}
	wrapped := false
	if len(c.s.Entrypoint) > 0 {
		check(c.s.Entrypoint[0], "entrypoint.0")
		wrapped = slices.Contains(wrappers, path.Base(c.s.Entrypoint[0]))
	}
	if len(c.s.Cmd) > 0 {
		prog := c.s.Cmd[0]
		inBin := strings.HasPrefix(prog, "/") && slices.Contains(universe.BinDirs, path.Dir(prog))
		if len(c.s.Entrypoint) == 0 || inBin || (wrapped && strings.HasPrefix(prog, "/")) {
			check(prog, "cmd.0")
		}
	}
	return shippers
}

// provided returns the package of closure that ships prog, or reports
// that none does and returns nil.
func (c *checker) provided(u *universe.Universe, closure []*universe.Package, prog, at string) *universe.Package {
	if p := Provides(closure, prog); p != nil {
		return p
	}
	for _, p := range closure {
		if slices.Contains(p.ScriptFiles, prog) {
			c.report(RuleInstallScripts, at, "%s is made by an install script (%s) of %s, which apko does not run, so the image does not have it", prog, strings.Join(p.Scripts, ", "), p.Name)
			return nil
		}
	}
	what := prog
	if cmdName := universe.CommandOf(prog); cmdName != "" {
		what = prog + " (" + cmdName + ")"
	}
	mainName := spec.PackageName(c.s.MainPackage)
	providers := providersOf(u, prog)
	if len(providers) == 0 && !u.KnowsPrograms(closure, mainName) {
		// Imported from source, the universe may know no programs of the
		// main package at all: that is not evidence the entrypoint is missing.
		c.warn(RuleEntrypointProvided, at, "%s cannot be checked: the %s universe knows no programs or files of %s (add f= or cmd: provides to it)", prog, u.Distro, mainName)
		return nil
	}
	msg := fmt.Sprintf("%s is not shipped by %s or any package the image installs with it", what, mainName)
	switch {
	case len(providers) == 0:
		msg += fmt.Sprintf("; nothing in %s provides it", snapshot(u))
	default:
		if puller := samePuller(u, mainName, providers); puller != nil {
			msg += fmt.Sprintf("; %s (same origin as %s) pulls in %s, which provides it: add %s to packages", puller.puller, mainName, puller.provider, puller.puller)
		} else {
			names := make([]string, 0, len(providers))
			for _, p := range providers {
				names = append(names, p.Name)
			}
			if len(names) > 3 {
				names = append(names[:3], fmt.Sprintf("and %d more", len(names)-3))
			}
			msg += "; provided by " + strings.Join(names, ", ")
		}
	}
	c.report(RuleEntrypointProvided, at, "%s", msg)
	return nil
}

// Provides returns the first package of pkgs that ships prog (an absolute
// path, or a command name looked up as cmd:NAME), or nil.
func Provides(pkgs []*universe.Package, prog string) *universe.Package {
	for _, p := range pkgs {
		if p.Ships(prog) {
			return p
		}
	}
	return nil
}

// providersOf lists the installable packages of u that ship prog.
func providersOf(u *universe.Universe, prog string) []*universe.Package {
	var out []*universe.Package
	if c := universe.CommandOf(prog); c != "" {
		out = append(out, u.Providers(c)...)
	}
	for i := range u.Packages {
		p := &u.Packages[i]
		if p.Removed == "" && slices.Contains(p.Files, prog) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

type pull struct{ puller, provider string }

// samePuller finds a package of the main package's origin whose closure
// holds one of providers (openjdk-21-default-jvm pulls in java-common-jre).
func samePuller(u *universe.Universe, mainName string, providers []*universe.Package) *pull {
	mp := u.Lookup(mainName)
	if mp == nil {
		return nil
	}
	origin := mp.OriginName()
	for i := range u.Packages {
		p := &u.Packages[i]
		if p.Removed != "" || p.OriginName() != origin || p.Name == mainName {
			continue
		}
		closure, _ := u.Closure(p.Name)
		for _, q := range closure {
			if slices.Contains(providers, q) {
				return &pull{p.Name, q.Name}
			}
		}
	}
	return nil
}
