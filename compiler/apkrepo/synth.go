package apkrepo

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
)

// Distributions Synthesize can imitate.
const (
	DistroWolfi  = "wolfi"
	DistroAlpine = "alpine"
)

// DefaultScale is the Scale used when SynthOptions.Scale is zero: a
// thousandth of real sizes, so a 6 MB glibc becomes 6 kB.
const DefaultScale = 0.001

// defaultVersion is the version of requested packages without one and of
// dependency packages Synthesize invents.
const defaultVersion = "1.0.0-r0"

// Request asks Synthesize for one package.
type Request struct {
	Name string
	// Version is the version to publish; empty means "1.0.0-r0". A version
	// just below it ("1.27.3-r0" -> "1.27.2-r0") is added as well, so that
	// pinning matters.
	Version string
	// Executables are absolute paths shipped with mode 0755, e.g.
	// "/usr/sbin/nginx"; empty means /usr/bin/<Name> (or a shared library
	// only, for names starting with "lib").
	Executables []string
	// Depends are apk dependency strings ("pcre2", "zlib>=1.3",
	// "so:libpcre2-8.so.0", "cmd:perl"). Names no other package provides
	// are synthesized as small library (or, for cmd:, executable) packages.
	Depends []string

	// Provides, Origin and Archs are used by SynthOptions.Exact only:
	// the provides published ("so:libz.so.1=1", "cmd:nginx"; one without
	// a version gets the package's), the origin (empty: the name) and the
	// architectures the package exists on (empty: all).
	Provides []string
	Origin   string
	Archs    []string
}

// SynthOptions configures Synthesize.
type SynthOptions struct {
	Requests []Request
	// Archs are apk architectures; empty means x86_64 and aarch64.
	Archs []string
	// Scale multiplies realistic package sizes (see realisticSize): 0.001
	// for tests, 0.01 for a demo, 1 for real sizes. Zero means DefaultScale.
	Scale float64
	// Distro is DistroWolfi (the default) or DistroAlpine; it picks the
	// base package names (baselayout, libc) and file layout. Any other
	// value means wolfi (Validate rejects it).
	Distro string
	// Exact publishes exactly the requests, as a package universe lists
	// them: no base packages or older versions beside them, no invented
	// dependencies, a request's Depends and Provides as given, and only
	// its Executables as programs (none by default). A request named like
	// a base package gets that package's files (baselayout, busybox links,
	// setuid shadow binaries ...), so images keep their real shapes.
	Exact bool
	// BuildTime stamps every package; zero means DefaultBuildTime().
	BuildTime time.Time
}

// Validate reports options Synthesize would silently replace by defaults.
func (o SynthOptions) Validate() error {
	switch o.Distro {
	case "", DistroWolfi, DistroAlpine:
	default:
		return fmt.Errorf("synthesize: unknown distro %q (want %q or %q)", o.Distro, DistroWolfi, DistroAlpine)
	}
	if o.Scale < 0 || math.IsNaN(o.Scale) || math.IsInf(o.Scale, 0) {
		return fmt.Errorf("synthesize: invalid scale %v", o.Scale)
	}
	for _, a := range o.Archs {
		if !validArch(a) {
			return fmt.Errorf("synthesize: invalid apk arch %q", a)
		}
	}
	for _, r := range o.Requests {
		if err := (Package{Name: r.Name, Version: cmpOr(r.Version, defaultVersion), Arch: "x86_64", Depends: r.Depends}).validate(); err != nil {
			return fmt.Errorf("synthesize: request %s: %w", r.Name, err)
		}
	}
	return nil
}

// Synthesize returns a realistic package universe for opts.Requests on
// every arch of opts.Archs, ready for WriteRepository.
//
// Besides the requested packages (each in its version and one older
// version, shipping its executables and depending on the libc and its
// Depends), the universe always holds these base packages:
//
//	wolfi:  wolfi-baselayout, glibc, ld-linux
//	alpine: alpine-baselayout-data, alpine-baselayout, musl
//	both:   ca-certificates-bundle, tzdata, busybox, bash, apk-tools,
//	        libcrypto3, libssl3, zlib, shadow, sudo, su-exec
//
// The files hardening checks look at are real: /etc/passwd (root only),
// /etc/group, /etc/os-release, /tmp (1777, sticky), /root
// (0700), /bin/busybox with /bin/sh a symlink to it (busybox provides
// cmd:sh), /bin/bash, /sbin/apk (plus a /usr/bin/apk symlink on wolfi),
// setuid /usr/bin/passwd, chsh, chfn, newgrp, gpasswd (4755) and setgid
// /usr/bin/chage (2755) from shadow, setuid /usr/bin/sudo (4755) from
// sudo. su-exec ships /sbin/su-exec as a plain 0755 binary, as the
// real one does: it is run as root to drop privileges.
//
// A request named like a base package adds that version of it (with the
// request's executables and depends) next to the base version. Requests
// for the same name and version are merged; apart from the order of the
// returned slice, the result does not depend on the order of the requests.
//
// Package contents are generated lazily (Size and Seed), so Synthesize
// itself is cheap; callers may append their own Packages with real bytes
// before writing the repository. Invalid options are replaced by defaults;
// use SynthOptions.Validate to reject them instead.
func Synthesize(opts SynthOptions) []Package {
	if len(opts.Archs) == 0 {
		opts.Archs = []string{"x86_64", "aarch64"}
	}
	if opts.Scale <= 0 || math.IsNaN(opts.Scale) || math.IsInf(opts.Scale, 0) {
		opts.Scale = DefaultScale
	}
	if opts.BuildTime.IsZero() {
		opts.BuildTime = DefaultBuildTime()
	}
	var out []Package
	seen := map[string]bool{}
	for _, arch := range opts.Archs {
		specs := universe(opts, arch)
		if opts.Exact {
			specs = exactUniverse(opts, arch)
		}
		for _, s := range specs {
			p := s.materialize(arch, opts.Scale, opts.BuildTime)
			if id := p.String(); !seen[id] {
				seen[id] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// spec is a package before sizes and seeds are fixed.
type spec struct {
	name, version, desc, license string
	origin                       string // empty: name
	depends, provides            []string
	files                        []File     // fixed small files, dirs and symlinks
	bulk                         []bulkFile // files that share the package size
	size                         int64      // installed size at Scale 1
}

// bulkFile is a generated file holding share of its package's size.
type bulkFile struct {
	path  string
	mode  fs.FileMode
	share float64
	// command marks an executable a requested package provides (cmd:):
	// it is a real program answering --version (VersionProgram).
	command bool
}

// minFileSize keeps generated files from vanishing at small scales.
const minFileSize = 64

func (s spec) materialize(arch string, scale float64, t time.Time) Package {
	p := Package{
		Name: s.name, Version: s.version, Arch: arch, Origin: cmpOr(s.origin, s.name),
		Description: s.desc, License: s.license,
		URL:     "https://packages.example.invalid/" + s.name,
		Depends: slices.Clone(s.depends), Provides: slices.Clone(s.provides),
		Files:     slices.Clone(s.files),
		BuildTime: t,
	}
	var shares float64
	for _, b := range s.bulk {
		shares += b.share
	}
	total := float64(s.size) * scale
	for _, b := range s.bulk {
		size := max(int64(total*b.share/shares), minFileSize)
		f := File{Path: b.path, Mode: b.mode, Size: size, Seed: seed(arch, s.name, s.version, b.path)}
		if b.command {
			// VersionProgram fails only for an arch it has no code for;
			// such a file keeps plain content.
			f.Head, _ = VersionProgram(arch, path.Base(b.path), s.version)
		}
		p.Files = append(p.Files, f)
	}
	return p
}

// seed derives a file's content seed from its identity.
func seed(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// universe returns the specs of one arch: requested packages, base
// packages, older versions of the requested ones and invented
// dependencies. When two specs share a name and version, the first wins:
// a request beats a base package, and both beat a synthesized older
// version, whatever the order of the requests.
func universe(opts SynthOptions, arch string) []spec {
	alpine := opts.Distro == DistroAlpine
	base := baseSpecs(alpine, arch)
	libc := "glibc"
	if alpine {
		libc = "musl"
	}
	index := map[string]int{}
	for i, s := range base {
		index[s.name] = i
	}
	var own, older []spec
	for _, r := range mergeRequests(opts.Requests) {
		var s spec
		if i, ok := index[r.Name]; ok {
			// A base package in the requested version, plus what it asks for.
			s = base[i]
			s.bulk = slices.Clone(s.bulk)
			s.provides = retag(s.provides, s.version, r.Version)
			s.version = r.Version
			for _, e := range r.Executables {
				p := strings.TrimPrefix(e, "/")
				if p != "" && !slices.ContainsFunc(s.bulk, func(b bulkFile) bool { return b.path == p }) {
					s.bulk = append(s.bulk, bulkFile{path: p, mode: 0o755, share: 0.2, command: true})
					s.provides = appendNew(s.provides, "cmd:"+path.Base(p)+"="+r.Version)
				}
			}
			s.depends = appendNew(slices.Clone(s.depends), r.Depends...)
		} else {
			s = requested(r, libc)
		}
		own = append(own, s)
		if v := olderVersion(r.Version); v != "" {
			o := s
			o.version = v
			o.provides = retag(s.provides, r.Version, v)
			older = append(older, o)
		}
	}
	// A requested package does not claim a command or a file a base package
	// already has (busybox's /bin/sh and applets, apk-tools' /sbin/apk): two
	// providers of cmd:wget make apk refuse to install both, as it would on
	// a real distro, and an image that wants the base one must install it.
	baseCmds, baseFiles := map[string]bool{}, map[string]bool{}
	for _, b := range base {
		for _, p := range b.provides {
			if strings.HasPrefix(p, "cmd:") {
				baseCmds[strings.SplitN(p, "=", 2)[0]] = true
			}
		}
		for _, f := range b.files {
			baseFiles[f.Path] = true
		}
		for _, f := range b.bulk {
			baseFiles[f.path] = true
		}
	}
	for _, group := range [][]spec{own, older} {
		for i := range group {
			if _, isBase := index[group[i].name]; isBase {
				continue
			}
			group[i].provides = slices.DeleteFunc(slices.Clone(group[i].provides), func(p string) bool {
				return baseCmds[strings.SplitN(p, "=", 2)[0]]
			})
			group[i].bulk = slices.DeleteFunc(slices.Clone(group[i].bulk), func(b bulkFile) bool { return baseFiles[b.path] })
		}
	}
	all := slices.Concat(own, base, older)
	return append(all, inventDepends(all, libc)...)
}

// exactUniverse returns the specs of one arch in Exact mode: each request
// on the arch, as given.
func exactUniverse(opts SynthOptions, arch string) []spec {
	alpine := opts.Distro == DistroAlpine
	base := baseSpecs(alpine, arch)
	index := map[string]int{}
	for i, b := range base {
		index[b.name] = i
	}
	// Files a base package ships are not shipped again by another package
	// (apk refuses two packages owning one path).
	baseFiles := map[string]bool{}
	requested := map[string]bool{}
	for _, r := range opts.Requests {
		requested[r.Name] = true
	}
	for _, b := range base {
		if !requested[b.name] {
			continue
		}
		for _, f := range b.files {
			baseFiles[f.Path] = true
		}
		for _, f := range b.bulk {
			baseFiles[f.path] = true
		}
	}
	var out []spec
	for _, r := range mergeRequests(opts.Requests) {
		if len(r.Archs) > 0 && !slices.Contains(r.Archs, arch) && !slices.Contains(r.Archs, "noarch") {
			continue
		}
		var s spec
		i, isBase := index[r.Name]
		if isBase {
			s = base[i]
			s.files = slices.Clone(s.files)
			s.bulk = slices.Clone(s.bulk)
		} else {
			s = spec{name: r.Name, license: "Apache-2.0", desc: r.Name + " (synthetic)", size: realisticSize(r.Name)}
		}
		s.version, s.origin = r.Version, r.Origin
		s.depends = slices.Clone(r.Depends)
		s.provides = nil
		for _, p := range r.Provides {
			if !strings.Contains(p, "=") {
				p += "=" + r.Version
			}
			s.provides = appendNew(s.provides, p)
		}
		has := func(p string) bool {
			return slices.ContainsFunc(s.files, func(f File) bool { return f.Path == p }) ||
				slices.ContainsFunc(s.bulk, func(b bulkFile) bool { return b.path == p })
		}
		for _, e := range r.Executables {
			p := strings.TrimPrefix(e, "/")
			if p == "" || has(p) || (!isBase && baseFiles[p]) {
				continue
			}
			s.bulk = append(s.bulk, bulkFile{path: p, mode: 0o755, share: 0.6, command: true})
		}
		if !isBase {
			// A shared library for every so: provide, as the real package ships it.
			for _, p := range r.Provides {
				if so, ok := strings.CutPrefix(universeName(p), "so:"); ok && !strings.Contains(so, "/") {
					if lp := "usr/lib/" + so; !has(lp) && !baseFiles[lp] {
						s.bulk = append(s.bulk, bulkFile{path: lp, mode: 0o755, share: 0.4})
					}
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// universeName is a provide or dependency without its version.
func universeName(p string) string {
	if i := strings.IndexAny(p, "<>=~"); i >= 0 {
		return p[:i]
	}
	return p
}

// mergeRequests fills in default versions, drops nameless requests and
// merges requests for the same name and version (union of executables,
// depends and provides, sorted; origin and architectures of the first),
// keeping the order of first appearance. Only SynthOptions.Exact reads the
// provides, origin and architectures.
func mergeRequests(in []Request) []Request {
	var out []Request
	at := map[string]int{}
	for _, r := range in {
		if r.Name == "" {
			continue
		}
		r.Version = cmpOr(r.Version, defaultVersion)
		id := r.Name + "=" + r.Version
		i, ok := at[id]
		if !ok {
			at[id] = len(out)
			out = append(out, Request{Name: r.Name, Version: r.Version, Origin: r.Origin, Archs: slices.Clone(r.Archs)})
			i = len(out) - 1
		}
		out[i].Executables = appendNew(out[i].Executables, r.Executables...)
		out[i].Depends = appendNew(out[i].Depends, r.Depends...)
		out[i].Provides = appendNew(out[i].Provides, r.Provides...)
	}
	for i := range out {
		slices.Sort(out[i].Executables)
		slices.Sort(out[i].Depends)
		slices.Sort(out[i].Provides)
	}
	return out
}

// retag rewrites "x=from" provides to "x=to".
func retag(provides []string, from, to string) []string {
	out := make([]string, len(provides))
	for i, p := range provides {
		if n, v, ok := strings.Cut(p, "="); ok && v == from {
			p = n + "=" + to
		}
		out[i] = p
	}
	return out
}

func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if a != "" && !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// requested is the spec of a requested package that is not a base package.
func requested(r Request, libc string) spec {
	version := r.Version
	s := spec{
		name: r.Name, version: version, license: "Apache-2.0",
		desc:    r.Name + " (synthetic)",
		depends: appendNew([]string{libc}, r.Depends...),
		size:    realisticSize(r.Name),
	}
	exes := r.Executables
	if len(exes) == 0 && !strings.HasPrefix(r.Name, "lib") {
		exes = []string{"/usr/bin/" + r.Name}
	}
	for _, e := range exes {
		p := strings.TrimPrefix(e, "/")
		if p == "" || slices.ContainsFunc(s.bulk, func(b bulkFile) bool { return b.path == p }) {
			continue
		}
		s.bulk = append(s.bulk, bulkFile{path: p, mode: 0o755, share: 0.6 / float64(len(exes)), command: true})
		s.provides = appendNew(s.provides, "cmd:"+path.Base(p)+"="+version)
	}
	lib := r.Name
	if !strings.HasPrefix(lib, "lib") {
		lib = "lib" + lib
	}
	s.bulk = append(s.bulk, bulkFile{path: "usr/lib/" + lib + ".so.1", mode: 0o755, share: 0.4})
	return s
}

// inventDepends returns specs for dependencies no spec in all satisfies.
func inventDepends(all []spec, libc string) []spec {
	have := map[string]bool{}
	for _, s := range all {
		have[s.name] = true
		for _, p := range s.provides {
			n, _, _ := strings.Cut(p, "=")
			have[n] = true
		}
	}
	var out []spec
	for _, s := range all {
		for _, d := range s.depends {
			if strings.HasPrefix(d, "!") {
				continue // a conflict, not a dependency
			}
			c := apk.ResolvePackageNameVersionPin(d)
			if have[c.Name] {
				continue
			}
			version := defaultVersion
			if c.Version != "" {
				if v, err := apk.ParseVersion(c.Version); err == nil {
					if ok, _ := c.SatisfiedBy(v); ok {
						version = c.Version
					}
				}
			}
			n := invented(c.Name, version, libc)
			for _, p := range slices.Concat([]string{n.name}, n.provides) {
				name, _, _ := strings.Cut(p, "=")
				have[name] = true
			}
			have[c.Name] = true
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b spec) int { return strings.Compare(a.name, b.name) })
	return out
}

// invented is a small package that satisfies dependency name: "so:libx.so.1"
// becomes package libx shipping usr/lib/libx.so.1, "cmd:foo" package foo
// with usr/bin/foo, and a plain name a library package.
func invented(name, version, libc string) spec {
	s := spec{version: version, license: "MIT", depends: []string{libc}}
	switch {
	case strings.HasPrefix(name, "so:"):
		soname := strings.TrimPrefix(name, "so:")
		s.name, _, _ = strings.Cut(soname, ".so")
		s.bulk = []bulkFile{{path: "usr/lib/" + soname, mode: 0o755, share: 1}}
		s.provides = []string{name + "=" + version}
	case strings.HasPrefix(name, "cmd:"):
		s.name = strings.TrimPrefix(name, "cmd:")
		s.bulk = []bulkFile{{path: "usr/bin/" + s.name, mode: 0o755, share: 1}}
		s.provides = []string{name + "=" + version}
	default:
		s.name = name
		lib := name
		if !strings.HasPrefix(lib, "lib") {
			lib = "lib" + lib
		}
		s.bulk = []bulkFile{{path: "usr/lib/" + lib + ".so.1", mode: 0o755, share: 1}}
	}
	s.name = strings.NewReplacer(":", "-", "/", "-").Replace(s.name)
	s.desc = s.name + " (synthetic dependency)"
	s.size = min(realisticSize(s.name), 500*kB)
	return s
}

// olderVersion returns a version just below v: the last non-zero number of
// the upstream part decremented ("1.27.3-r1" -> "1.27.2-r1", "2.0" ->
// "1.0"), else the release decremented ("0.0-r2" -> "0.0-r1"); "" if
// there is none.
func olderVersion(v string) string {
	want, err := apk.ParseVersion(v)
	if err != nil {
		return ""
	}
	up, rel, hasRel := strings.Cut(v, "-r")
	cands := []string{}
	// Walk the runs of digits from the right.
	for end := len(up); end > 0; {
		if !isDigit(up[end-1]) {
			end--
			continue
		}
		start := end
		for start > 0 && isDigit(up[start-1]) {
			start--
		}
		if n, err := strconv.ParseUint(up[start:end], 10, 64); err == nil && n > 0 {
			c := up[:start] + strconv.FormatUint(n-1, 10) + up[end:]
			if hasRel {
				c += "-r" + rel
			}
			cands = append(cands, c)
			break
		}
		end = start
	}
	if r, err := strconv.Atoi(rel); hasRel && err == nil && r > 0 {
		cands = append(cands, up+"-r"+strconv.Itoa(r-1))
	}
	for _, c := range cands {
		if cv, err := apk.ParseVersion(c); err == nil && apk.CompareVersions(cv, want) < 0 {
			return c
		}
	}
	return ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
