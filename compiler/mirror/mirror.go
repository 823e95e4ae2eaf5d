// Package mirror generates a signed local mirror of every repository the
// catalog's compiled images name, with synthetic contents (compiler/apkrepo)
// in real shapes. For a distro with a package universe (compiler/universe)
// the mirror serves only what the universe lists: its names, the versions
// the images pin plus the newest, its dependencies and provides, and an
// entrypoint file only where the universe says a package ships it; an image
// naming anything else fails here, as it would against the real repository.
// A distro without a universe gets every package an image asks for, at the
// pinned version, with its entrypoint (the legacy mode). It writes mirrors.json,
// the map from each catalog repository URL to its directory, which
// `hic build --mirrors` reads. This is what tests, examples, the demo and
// the benchmarks build from: no network, ever.
package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hic-build/hic/compiler/apkindex"
	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/check"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/universe"
)

// ManifestName is the file in a mirror root that maps URLs to directories.
const ManifestName = "mirrors.json"

// keyDir holds the private signing keys of a generated mirror, one per
// keyring name, so that regenerating the mirror keeps its keys.
const keyDir = "signing-keys"

// Options configures Generate.
type Options struct {
	// Dir is the mirror root; it is created.
	Dir string
	// Scale multiplies realistic package sizes (apkrepo.SynthOptions.Scale).
	Scale float64
	// Universes are the package universes by distro; a distro without one
	// is generated in the legacy mode.
	Universes map[string]*universe.Universe
}

// Manifest lists the mirrors of a mirror root; Dir entries are relative to it.
type Manifest struct {
	Mirrors []resolve.Mirror `json:"mirrors"`
}

// Generate writes one repository per distro and the manifest. It replaces
// what Dir held for those distros: a mirror holds exactly the packages of
// the images it was generated for (its signing keys are kept).
func Generate(ctx context.Context, images []compile.Image, opts Options) (*Manifest, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	type group struct {
		distro   string
		family   string
		repos    []string
		keyring  string                     // the catalog keyring the mirror's key stands in for
		requests map[string]apkrepo.Request // by name=version
		images   []compile.Image
	}
	groups := map[string]*group{}
	for _, img := range images {
		d := img.Metadata.Distro
		g, ok := groups[d]
		if !ok {
			family := apkrepo.DistroWolfi
			if strings.HasPrefix(d, "alpine") {
				family = apkrepo.DistroAlpine
			}
			g = &group{distro: d, family: family, requests: map[string]apkrepo.Request{}}
			if k := img.Config.Contents.Keyring; len(k) > 0 {
				g.keyring = k[0]
			}
			groups[d] = g
		}
		g.images = append(g.images, img)
		for _, r := range img.Config.Contents.Repositories {
			if !slices.Contains(g.repos, r) {
				g.repos = append(g.repos, r)
			}
		}
		main := img.Metadata.MainPackage
		for _, p := range img.Config.Contents.Packages {
			name, version, _ := strings.Cut(p, "=")
			k := name + "=" + version
			req := g.requests[k]
			req.Name, req.Version = name, version
			if p == main {
				if exe := entrypointBinary(img); exe != "" && !slices.Contains(req.Executables, exe) {
					req.Executables = append(req.Executables, exe)
				}
			}
			g.requests[k] = req
		}
	}
	var names []string
	for d := range groups {
		names = append(names, d)
	}
	sort.Strings(names)
	m := &Manifest{}
	for _, d := range names {
		g := groups[d]
		var reqs []apkrepo.Request
		for _, r := range g.requests {
			sort.Strings(r.Executables)
			reqs = append(reqs, r)
		}
		sort.Slice(reqs, func(i, j int) bool {
			if reqs[i].Name != reqs[j].Name {
				return reqs[i].Name < reqs[j].Name
			}
			return reqs[i].Version < reqs[j].Version
		})
		// The mirror's key carries the name of the catalog's keyring, as a
		// real mirror's would, so the image's /etc/apk/keys is the same.
		key, err := loadOrCreateKey(filepath.Join(opts.Dir, keyDir), keyName(g.keyring, d))
		if err != nil {
			return nil, err
		}
		synth := apkrepo.SynthOptions{Requests: reqs, Scale: opts.Scale, Distro: g.family}
		u := opts.Universes[d]
		if u != nil {
			if synth.Requests, err = fromUniverse(u, g.images); err != nil {
				return nil, fmt.Errorf("mirror %s: %w", d, err)
			}
			synth.Exact = true
		}
		pkgs := dropDuplicateFiles(apkrepo.Synthesize(synth))
		// The distro's directory is written beside the old one and swapped
		// in whole: an interrupted run leaves the old mirror as it was.
		stage, err := os.MkdirTemp(opts.Dir, "."+d+".new-")
		if err != nil {
			return nil, fmt.Errorf("mirror: %w", err)
		}
		defer os.RemoveAll(stage)
		pub, err := key.PublicKeyPEM()
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", d, err)
		}
		fp, err := apkindex.KeyFingerprint(pub)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", d, err)
		}
		// Every repository of the distro gets a directory of its own, so
		// that a package's directory names its one true repository (locks
		// and provenance record it). With a universe each holds the packages
		// the universe says it has; without one, everything is in the
		// distro's first repository (Alpine's main) and the others are
		// empty, signed indexes.
		dirs := repoDirs(d, g.repos)
		parts := assignPackages(u, g.repos, pkgs)
		archs := packageArchs(pkgs)
		urls := slices.Sorted(slices.Values(g.repos))
		for _, r := range urls {
			dir := filepath.Join(stage, dirs[r])
			if len(parts[r]) > 0 {
				_, err = apkrepo.WriteRepository(ctx, dir, key, parts[r])
			} else {
				_, err = apkrepo.WriteEmptyRepository(ctx, dir, key, archs)
			}
			if err != nil {
				return nil, fmt.Errorf("mirror %s: %w", d, err)
			}
			// The key is pinned by content: a file swapped into keys/ under
			// its name is refused.
			m.Mirrors = append(m.Mirrors, resolve.Mirror{URL: r, Dir: dirs[r], Keys: map[string]string{key.PublicKeyFileName(): fp}})
		}
		if err := swapIn(filepath.Join(stage, d), filepath.Join(opts.Dir, d)); err != nil {
			return nil, fmt.Errorf("mirror %s: %w", d, err)
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(opts.Dir, ManifestName), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	return m, nil
}

// swapIn puts the directory staged in place of the one at dst (if
// any) in one rename(2): the old one ends up at staged, for the caller to
// remove with the staging directory.
func swapIn(staged, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, staged, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
	switch {
	case errors.Is(err, unix.ENOENT):
		return os.Rename(staged, dst) // nothing there yet
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
		// A filesystem without the exchange: two renames, the old
		// directory kept until the new one is in place.
		old := staged + ".old"
		if err := os.Rename(dst, old); err != nil {
			return err
		}
		if err := os.Rename(staged, dst); err != nil {
			return errors.Join(err, os.Rename(old, dst))
		}
		return nil // the old directory is in the staging directory
	}
	return err
}

// repoDirs gives each repository URL of a distro its own directory,
// relative to the mirror root: the distro's directory when it has one
// repository, else a directory in it named after the URL's last element
// (Alpine: main, community), or repo-N where those clash.
func repoDirs(distro string, repos []string) map[string]string {
	dirs := map[string]string{}
	if len(repos) == 1 {
		dirs[repos[0]] = distro
		return dirs
	}
	used := map[string]bool{}
	for i, r := range repos {
		name := path.Base(strings.TrimSuffix(r, "/"))
		if !validDirName(name) || used[name] {
			name = fmt.Sprintf("repo-%d", i+1)
		}
		used[name] = true
		dirs[r] = filepath.Join(distro, name)
	}
	return dirs
}

func validDirName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, "repo-") {
		return false
	}
	return !strings.ContainsAny(name, "/\\:")
}

// assignPackages puts each package into the repository the universe says
// it is in (repos in the catalog's order; a universe source whose URL is
// not one of repos, or a package of no source, goes to the first). Without
// a universe, every package is in the first repository.
func assignPackages(u *universe.Universe, repos []string, pkgs []apkrepo.Package) map[string][]apkrepo.Package {
	out := map[string][]apkrepo.Package{}
	first := repos[0]
	urlOf := map[string]string{}
	if u != nil {
		for _, s := range u.Sources {
			url := strings.TrimSuffix(s.URL, "/")
			if slices.Contains(repos, url) {
				urlOf[s.Name] = url
			}
		}
	}
	for _, p := range pkgs {
		r := first
		if u != nil && len(u.Sources) > 0 {
			src := u.Sources[0].Name
			if up := u.Lookup(p.Name); up != nil && up.Source != "" {
				src = up.Source
			}
			if url, ok := urlOf[src]; ok {
				r = url
			}
		}
		out[r] = append(out[r], p)
	}
	return out
}

// packageArchs are the architectures of pkgs, sorted.
func packageArchs(pkgs []apkrepo.Package) []string {
	var archs []string
	for _, p := range pkgs {
		if !slices.Contains(archs, p.Arch) {
			archs = append(archs, p.Arch)
		}
	}
	slices.Sort(archs)
	return archs
}

// fromUniverse returns the packages a mirror of u serves for images: every
// package their package lists pull in (by the universe's dependencies), in
// its newest version and in each version an image pins, with the
// universe's dependencies, provides, origin and architectures. The
// programs images start are shipped by the package of their closure the
// universe says ships them, and by no other. A package, version or
// dependency the universe does not have is an error.
func fromUniverse(u *universe.Universe, images []compile.Image) ([]apkrepo.Request, error) {
	pins := map[string][]string{}
	exes := map[string][]string{}
	var roots []string
	for _, img := range images {
		pkgs := img.Config.Contents.Packages
		for _, p := range pkgs {
			name, version, _ := strings.Cut(p, "=")
			if err := u.PinError(name, version); err != nil {
				return nil, fmt.Errorf("%s: %w", img.Ref, err)
			}
			if version != "" && !slices.Contains(pins[name], version) {
				pins[name] = append(pins[name], version)
			}
			if !slices.Contains(roots, name) {
				roots = append(roots, name)
			}
		}
		closure, missing := u.Closure(pkgs...)
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s: nothing in the %s universe provides %s, which its packages depend on", img.Ref, u.Distro, strings.Join(missing, ", "))
		}
		mainName, _, _ := strings.Cut(img.Metadata.MainPackage, "=")
		for _, prog := range programs(img) {
			shipper := ""
			if p := check.Provides(closure, prog); p != nil {
				shipper = p.Name
			} else if _, waived := img.Policy.Waives(check.RuleEntrypointProvided); waived || !u.KnowsPrograms(closure, mainName) {
				// What vet could not check (the universe knows no program
				// of the main package), or what a spec's exception says
				// the main package ships, the main package ships here.
				shipper = mainName
			}
			if shipper != "" && !slices.Contains(exes[shipper], prog) {
				exes[shipper] = append(exes[shipper], prog)
			}
		}
	}
	sort.Strings(roots)
	closure, _ := u.Closure(roots...)
	var reqs []apkrepo.Request
	for _, p := range closure {
		versions := []string{p.Newest()}
		for _, v := range pins[p.Name] {
			if !slices.Contains(versions, v) {
				versions = append(versions, v)
			}
		}
		files := slices.Clone(exes[p.Name])
		for _, f := range p.Files {
			if !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
		for _, v := range versions {
			reqs = append(reqs, apkrepo.Request{
				Name: p.Name, Version: v, Origin: p.Origin, Archs: p.Archs,
				Depends: p.Depends, Provides: p.Provides, Executables: files,
			})
		}
	}
	sort.Slice(reqs, func(i, j int) bool {
		if reqs[i].Name != reqs[j].Name {
			return reqs[i].Name < reqs[j].Name
		}
		return reqs[i].Version < reqs[j].Version
	})
	return reqs, nil
}

// programs are the absolute program paths an image starts: the
// entrypoint's, and the cmd's when it names one.
func programs(img compile.Image) []string {
	var out []string
	for _, c := range []string{img.Config.Entrypoint.Command, img.Config.Cmd} {
		f := strings.Fields(c)
		if len(f) > 0 && strings.HasPrefix(strings.Trim(f[0], "'"), "/") {
			out = append(out, strings.Trim(f[0], "'"))
		}
	}
	return out
}

// dropDuplicateFiles keeps the first entry of each path in every package.
// An entrypoint a base package already ships as a link or fixed file (the
// busybox image's /bin/sh) would otherwise be added again as a generated
// executable, and WriteRepository rejects the package.
func dropDuplicateFiles(pkgs []apkrepo.Package) []apkrepo.Package {
	for i, p := range pkgs {
		seen := make(map[string]bool, len(p.Files))
		files := p.Files[:0:0]
		for _, f := range p.Files {
			k := strings.Trim(f.Path, "/")
			if !seen[k] {
				seen[k] = true
				files = append(files, f)
			}
		}
		pkgs[i].Files = files
	}
	return pkgs
}

// entrypointBinary is the absolute program path an image starts, if any.
func entrypointBinary(img compile.Image) string {
	f := strings.Fields(img.Config.Entrypoint.Command)
	if len(f) == 0 || !strings.HasPrefix(f[0], "/") {
		return ""
	}
	return strings.Trim(f[0], "'")
}

// keyName is the key name a keyring URL implies: its file name without ".rsa.pub".
func keyName(keyringURL, fallback string) string {
	base := keyringURL[strings.LastIndexByte(keyringURL, '/')+1:]
	if n := strings.TrimSuffix(base, ".rsa.pub"); n != "" && n != base {
		return n
	}
	return "hic-mirror-" + fallback
}

func loadOrCreateKey(dir, name string) (*apkrepo.Key, error) {
	priv := filepath.Join(dir, name+".rsa")
	if _, err := os.Stat(priv); err == nil {
		return apkrepo.LoadKey(priv)
	}
	k, err := apkrepo.GenerateKey(name)
	if err != nil {
		return nil, err
	}
	if _, _, err := k.WriteFiles(dir); err != nil {
		return nil, fmt.Errorf("mirror: write key: %w", err)
	}
	return k, nil
}

// Load reads a mirror root's manifest and returns its mirrors with absolute directories.
func Load(root string) ([]resolve.Mirror, error) {
	b, err := os.ReadFile(filepath.Join(root, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("mirrors %s: %w (generate one with `hic mirror`)", root, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("mirrors %s: %w", filepath.Join(root, ManifestName), err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for i := range m.Mirrors {
		if !filepath.IsAbs(m.Mirrors[i].Dir) {
			m.Mirrors[i].Dir = filepath.Join(abs, m.Mirrors[i].Dir)
		}
	}
	return m.Mirrors, nil
}
