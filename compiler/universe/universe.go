package universe

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hic-build/hic/compiler/apkversion"
)

// FormatVersion is the @universe version this package reads and writes.
const FormatVersion = 1

// Universe is the package universe of one distro.
type Universe struct {
	// Distro is the schema's distro name ("wolfi", "alpine-3.23").
	Distro string
	// Archs are the apk architectures packages have by default, sorted.
	Archs []string
	// Sources are the snapshots the packages come from; the first is the
	// default of Package.Source.
	Sources []Source
	// Unverified is the default of Package.Unverified (@verified no).
	Unverified bool
	// Packages are sorted by name, one per name.
	Packages []Package

	once   sync.Once
	byName map[string]int
	byProv map[string][]int

	keysOnce    sync.Once
	keys        []nameKey
	suggestMu   sync.Mutex
	suggestMemo map[string][]Suggestion
}

// Source is one snapshot of a distro's real data: an APK repository's
// signed indexes or a source tree at a commit.
type Source struct {
	// Name is how packages refer to it ("os", "main", "community").
	Name string
	// URL is the APK repository URL.
	URL string
	// From is the source repository the data was read from, if not the
	// repository's own indexes (e.g. https://github.com/wolfi-dev/os).
	From string
	// Commit is the commit of From that was read.
	Commit string
	// Date is the day of the snapshot, YYYY-MM-DD.
	Date string
	// Indexes maps an apk arch to the digest ("sha256:...") of the
	// APKINDEX.tar.gz that was imported.
	Indexes map[string]string
	// Signer is the key file name whose signature on the indexes verified.
	Signer string
	// Unverified marks a snapshot whose data could not be checked against
	// the distro's real, signed data.
	Unverified bool
}

// Package is one package name and what the universe knows about it.
type Package struct {
	Name string
	// Versions are newest first.
	Versions []string
	// Origin is the source package; empty means Name.
	Origin string
	// Archs are the architectures; nil means the universe's Archs.
	Archs []string
	// Source names the Universe.Sources entry; empty means the first.
	Source string
	// Depends and Provides are apk dependency and provide strings of the
	// newest version.
	Depends  []string
	Provides []string
	// Files are paths the package ships that no cmd: provide implies
	// (entrypoints outside bin directories, config files).
	Files []string
	// Scripts are the install scripts and triggers the package runs.
	Scripts []string
	// ScriptFiles are files only those scripts create.
	ScriptFiles []string
	// Removed is the day the package left the repository; none of
	// Versions is installable at the snapshot.
	Removed string
	// Unverified marks facts not read from the distro's real data.
	Unverified bool
}

// OriginName is the origin, or the name when the package has none.
func (p *Package) OriginName() string {
	if p.Origin != "" {
		return p.Origin
	}
	return p.Name
}

// Newest is the newest version, "" if there is none.
func (p *Package) Newest() string {
	if len(p.Versions) == 0 {
		return ""
	}
	return p.Versions[0]
}

// Has reports whether version is one of the package's versions.
func (p *Package) Has(version string) bool { return slices.Contains(p.Versions, version) }

// Nearest returns up to n of the package's versions closest to version in
// apk version order: the ones just below and just above it, nearest first.
func (p *Package) Nearest(version string, n int) []string {
	want, err := apkversion.Parse(version)
	if err != nil || n <= 0 {
		return firstN(p.Versions, n)
	}
	// Versions are newest first: find the first one below want.
	i := sort.Search(len(p.Versions), func(i int) bool { return CompareVersions(p.Versions[i], want) < 0 })
	var out []string
	above, below := i-1, i
	for len(out) < n && (above >= 0 || below < len(p.Versions)) {
		if below < len(p.Versions) {
			out = append(out, p.Versions[below])
			below++
		}
		if len(out) < n && above >= 0 {
			out = append(out, p.Versions[above])
			above--
		}
	}
	return out
}

func firstN(ss []string, n int) []string {
	if n < 0 || n > len(ss) {
		n = len(ss)
	}
	return slices.Clone(ss[:n])
}

// CompareVersions compares a version string with a parsed one in apk order;
// an unparsable a sorts first.
func CompareVersions(a string, b apkversion.Version) int {
	va, err := apkversion.Parse(a)
	if err != nil {
		return -1
	}
	return apkversion.Compare(va, b)
}

// SortVersions sorts versions newest first in apk version order and drops
// duplicates; unparsable versions go last, bytewise.
func SortVersions(vs []string) []string {
	type pv struct {
		s  string
		v  apkversion.Version
		ok bool
	}
	ps := make([]pv, 0, len(vs))
	for _, s := range vs {
		v, err := apkversion.Parse(s)
		ps = append(ps, pv{s, v, err == nil})
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		switch {
		case a.ok && b.ok:
			if c := apkversion.Compare(a.v, b.v); c != 0 {
				return c > 0
			}
			return a.s < b.s
		case a.ok != b.ok:
			return a.ok
		}
		return a.s < b.s
	})
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if len(out) == 0 || out[len(out)-1] != p.s {
			out = append(out, p.s)
		}
	}
	return out
}

func (u *Universe) index() {
	u.once.Do(func() {
		u.byName = make(map[string]int, len(u.Packages))
		u.byProv = map[string][]int{}
		for i := range u.Packages {
			p := &u.Packages[i]
			u.byName[p.Name] = i
			if p.Removed != "" {
				continue
			}
			for _, pr := range p.Provides {
				n, _, _ := strings.Cut(pr, "=")
				u.byProv[n] = append(u.byProv[n], i)
			}
		}
	})
}

// Lookup returns the package named name, or nil.
func (u *Universe) Lookup(name string) *Package {
	u.index()
	if i, ok := u.byName[name]; ok {
		return &u.Packages[i]
	}
	return nil
}

// Providers returns the installable packages a dependency name (without
// version constraint) is satisfied by: the package of that name first,
// then the packages providing it, by name.
func (u *Universe) Providers(name string) []*Package {
	u.index()
	var out []*Package
	if p := u.Lookup(name); p != nil && p.Removed == "" {
		out = append(out, p)
	}
	for _, i := range u.byProv[name] {
		if p := &u.Packages[i]; p.Name != name {
			out = append(out, p)
		}
	}
	return out
}

// Closure returns the packages installing names pulls in: names
// themselves and, transitively, the first provider of each dependency.
// Dependencies nothing provides are returned as missing. Conflicts ("!x")
// are ignored. The result is in discovery order.
func (u *Universe) Closure(names ...string) (pkgs []*Package, missing []string) {
	seen := map[string]bool{}
	queue := slices.Clone(names)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if strings.HasPrefix(d, "!") {
			continue
		}
		name := DependencyName(d)
		if seen["dep:"+name] {
			continue
		}
		seen["dep:"+name] = true
		prov := u.Providers(name)
		if len(prov) == 0 {
			missing = append(missing, name)
			continue
		}
		p := prov[0]
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		pkgs = append(pkgs, p)
		queue = append(queue, p.Depends...)
	}
	return pkgs, missing
}

// DependencyName strips the version constraint from an apk dependency
// string ("zlib>=1.3" -> "zlib", "so:libc.so.6" -> "so:libc.so.6").
func DependencyName(dep string) string {
	dep = strings.TrimPrefix(dep, "!")
	if i := strings.IndexAny(dep, "<>=~"); i >= 0 {
		return dep[:i]
	}
	return dep
}

// ProvideName is a provide without its version ("cmd:java=21.0.5-r0" -> "cmd:java").
func ProvideName(p string) string {
	n, _, _ := strings.Cut(p, "=")
	return n
}

// BinDirs are the directories a cmd: provide puts a program in.
var BinDirs = []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}

// CommandOf is the cmd: provide that ships prog: "cmd:java" for
// /usr/bin/java or a bare "java", "" for a path outside BinDirs.
func CommandOf(prog string) string {
	if !strings.HasPrefix(prog, "/") {
		return "cmd:" + prog
	}
	if slices.Contains(BinDirs, path.Dir(prog)) {
		return "cmd:" + path.Base(prog)
	}
	return ""
}

// Ships reports whether the package ships prog: an absolute path it lists
// in Files, or a program in a bin directory (or a bare command name) it
// provides as cmd:NAME.
func (p *Package) Ships(prog string) bool {
	if slices.Contains(p.Files, prog) {
		return true
	}
	c := CommandOf(prog)
	if c == "" {
		return false
	}
	for _, pr := range p.Provides {
		if ProvideName(pr) == c {
			return true
		}
	}
	return false
}

// KnowsPrograms reports whether u records any program or file of the
// origin of package name among closure. A universe imported from source
// may know none of a package's programs: then that a program is not listed
// is no evidence the package lacks it.
func (u *Universe) KnowsPrograms(closure []*Package, name string) bool {
	mp := u.Lookup(name)
	if mp == nil {
		return true
	}
	for _, p := range closure {
		if p.OriginName() != mp.OriginName() {
			continue
		}
		if len(p.Files) > 0 || slices.ContainsFunc(p.Provides, func(pr string) bool { return strings.HasPrefix(pr, "cmd:") }) {
			return true
		}
	}
	return false
}

// PinError says why name=version cannot be installed from u, or is nil.
// version may be empty (any version).
func (u *Universe) PinError(name, version string) error {
	p := u.Lookup(name)
	switch {
	case p == nil:
		return fmt.Errorf("package %q is not in the %s universe", name, u.Distro)
	case p.Removed != "":
		return fmt.Errorf("package %q left %s on %s", name, u.Distro, p.Removed)
	case version != "" && !p.Has(version):
		return fmt.Errorf("%s %s is not a version the %s universe has (nearest: %s)", name, version, u.Distro, strings.Join(p.Nearest(version, 2), ", "))
	}
	return nil
}
