package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	apkobuild "chainguard.dev/apko/pkg/build"
	"chainguard.dev/apko/pkg/build/oci"
	"chainguard.dev/apko/pkg/build/types"
	"github.com/chainguard-dev/clog"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/layercache"
	"github.com/hic-build/hic/compiler/resolve"
)

// DefaultLayering is the layering of a spec that sets none: one layer per
// package origin, up to 10, the largest first, the rest merged, plus a top
// layer with what apko writes itself. Layers of packages shared between
// images are then byte-identical across them, so a store or registry keeps
// them once.
func DefaultLayering() *types.Layering { return &types.Layering{Strategy: "origin", Budget: 10} }

// Options configure Build.
type Options struct {
	// Mirrors replace catalog repositories by local directories, as for
	// resolve.Resolve. Packages from a mirror are verified against its
	// signed index before they are installed.
	Mirrors []resolve.Mirror
	// CacheDir is apko's package cache, shared safely by concurrent builds.
	// Empty: a fresh directory inside the build's temporary directory
	// (every build is then a cold build).
	CacheDir string
	// TempDir is the parent of the build's own temporary directory, which is
	// removed before Build returns. Empty: os.TempDir().
	TempDir string
	// Transport is the HTTP transport apko fetches repositories without a
	// mirror and keys with. Nil: apko's default (http.DefaultTransport).
	Transport http.RoundTripper
	// Checked remembers the package files verified by earlier builds of the
	// same process (see PackageChecks). Nil: every build hashes every file.
	Checked *PackageChecks
	// Layers is the cache of compressed layers shared by builds: a layer it
	// holds (found by a description made before the layer's bytes exist,
	// see assemble.go) is not written, hashed or compressed again, and the
	// images of the Result read their layers from it (they are not held in
	// memory). Nil: a cache of the build's own, and the Result holds its
	// images in memory.
	Layers *layercache.Cache
	// LayerTars, when set, is called for each layer of the host's platform
	// that the build writes (not for a layer the cache holds, nor for a
	// spec laid out by apko): the LayerTar gets the layer's uncompressed
	// tar as it is written, then Commit with its diff ID once the layer is
	// in the cache, or Abort. The smoke tests' root filesystems are made
	// from these without decompressing the layers again
	// (smoke.LayerTrees.NewFeed).
	LayerTars func() LayerTar

	// apkoLayers lays out every image with apko's BuildLayers, as before
	// hic laid out layers itself (assemble.go): tests compare the two.
	apkoLayers bool
}

// LayerTar receives a layer's uncompressed tar as the build writes it.
// Its writes must not fail the build: Write takes all it is given.
type LayerTar interface {
	io.Writer
	// Commit ends the tar, which the build stored as the layer with
	// diffID, the tar's sha256.
	Commit(diffID v1.Hash)
	// Abort ends a tar the build did not finish.
	Abort()
}

// Build builds img for each of its architectures from the packages lock
// names, through apko, and returns the image index, the images, the SBOMs
// and what was installed, all in memory.
//
// Before apko installs a package, Build checks it: a mirrored package file
// against the mirror's index, whose signature must verify with a key of the
// spec's keyring, and the lock; a package downloaded from a repository
// without a mirror against the lock as it arrives (control checksum, data
// hash, size). After the install it checks that apko installed exactly the
// locked packages. Packages already in opts.CacheDir are checked against the
// lock before apko reads them; an altered entry is removed and fetched again.
// Result.Files gives the SHA-256 of each installed package's .apk file,
// hashed in those checks (see PackageFile), for the provenance.
//
// A spec without Layering is built with DefaultLayering.
//
// The same img and the same repository contents give a bit-identical index
// digest, whatever the output, cache, temporary or mirror directories.
// The build date is lock.BuildDate(). apko lets the SOURCE_DATE_EPOCH
// environment variable override any build date; Build fails if it did.
//
// Logging goes to clog.FromContext(ctx), the logger apko uses too.
// Build is safe to call concurrently; each call uses its own temporary
// directory under opts.TempDir and removes it.
func Build(ctx context.Context, img compile.Image, lock *resolve.Lock, opts Options) (*Result, error) {
	ref := img.Ref
	start := time.Now()
	if lock == nil || lock.Ref != ref {
		return nil, fmt.Errorf("%s: build: no lock for this spec", ref)
	}
	apkoCfg := resolve.ApkoConfig(img.Config)
	archs := resolve.Archs(apkoCfg)
	if len(archs) == 0 {
		return nil, fmt.Errorf("%s: build: the configuration names no architecture", ref)
	}
	for _, a := range archs {
		if len(lock.Packages(a)) == 0 {
			return nil, fmt.Errorf("%s: build: the lock has no packages for %s", ref, a.ToAPK())
		}
	}
	src, err := resolve.NewSources(apkoCfg, opts.Mirrors, img.KeyPins)
	if err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	indexDigests, mirrored, err := verifyMirrors(ctx, ref, src, lock, archs)
	if err != nil {
		return nil, err
	}

	tmp, cacheDir, err := resolve.WorkDir(opts.TempDir, "hic-build-", opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	defer os.RemoveAll(tmp)
	sbomDir := filepath.Join(tmp, "sbom")
	if err := os.MkdirAll(sbomDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	// apko reads each verified mirror through a path named after the
	// indexes it was verified with, so that its process-wide caches, keyed
	// by path, never serve a package or index of an older repository state.
	links := filepath.Join(cacheDir, "hic-mirrors")
	if src, err = versionedSources(apkoCfg, img.KeyPins, opts.Mirrors, indexDigests, links); err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	others, err := otherStates(links, opts.Mirrors, src)
	if err != nil {
		return nil, fmt.Errorf("%s: build: package cache: %w", ref, err)
	}
	// A package's cache entry is made as its file is verified, unless one
	// made under another mirror path can be adopted (verifyPackageCache).
	mirrorDigests, err := verifyPackages(ctx, ref, mirrored, opts.Checked, func(p resolve.Package, arch types.Architecture) (string, error) {
		if len(others) > 0 {
			if sig, ok := mirrorSignature(src, p, arch); ok {
				if _, ok := otherEntry(cacheDir, others, p, arch, sig); ok {
					return "", nil
				}
			}
		}
		return cacheEntry(cacheDir, src, p, arch)
	})
	if err != nil {
		return nil, err
	}

	layers, inMem := opts.Layers, false
	if layers == nil {
		if layers, err = layercache.Open(filepath.Join(tmp, "layers"), 0); err != nil {
			return nil, fmt.Errorf("%s: build: %w", ref, err)
		}
		inMem = true
	}

	if _, err := verifyPackageCache(ctx, ref, cacheDir, src, others, lock, archs, opts.Checked); err != nil {
		return nil, err
	}
	date := lock.BuildDate()
	shared := apk.NewCache(true)
	common := []apkobuild.Option{
		apkobuild.WithSourceDateEpoch(date),
		apkobuild.WithSBOMFormats([]string{"spdx"}),
		apkobuild.WithSBOM(sbomDir),
		apkobuild.WithVCS(false),
		apkobuild.WithCache(cacheDir, false, shared),
	}
	fetchDir := filepath.Join(tmp, "fetch")
	if err := os.MkdirAll(fetchDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	// Keys apko fetches are checked against the catalog's pins.
	transport := resolve.KeyTransport(opts.Transport, img.KeyPins)
	verify := newVerifier(transport, ref, fetchDir, src, lock, archs)
	if verify != nil {
		common = append(common, apkobuild.WithTransport(verify))
	} else if transport != nil {
		common = append(common, apkobuild.WithTransport(transport))
	}
	if tag := imageTag(img); tag != "" {
		common = append(common, apkobuild.WithTags(tag))
	}

	res := &Result{
		Ref:       ref,
		Images:    map[string]v1.Image{},
		SBOMs:     map[string][]byte{},
		Installed: map[string][]resolve.Package{},
		Files:     map[string]map[string]PackageFile{},
		FS:        map[string]inspect.FS{},
		BuildDate: date,
	}
	imgs := map[types.Architecture]v1.Image{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, arch := range archs {
		g.Go(func() error {
			var tars func() LayerTar
			if platform(arch) == runtime.GOOS+"/"+runtime.GOARCH {
				tars = opts.LayerTars
			}
			a, err := buildArch(gctx, img, src, lock, arch, common, layers, tars, !opts.apkoLayers, filepath.Join(tmp, arch.ToAPK()))
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			imgs[arch] = a.image
			res.Installed[platform(arch)] = a.installed
			res.SBOMs[platform(arch)] = a.sbom
			res.FS[platform(arch)] = a.fs
			res.LayersBuilt += a.built
			res.LayersReused += a.reused
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if verr := verify.err(); verr != nil {
			return nil, verr // the cause, rather than apko's report of it
		}
		if kerr := resolve.KeyError(transport); kerr != nil {
			return nil, fmt.Errorf("%s: build: %w", ref, kerr)
		}
		return nil, err
	}

	mirrorFiles := make(map[string]string, len(mirrored))
	for i, m := range mirrored {
		mirrorFiles[m.arch.ToAPK()+"/"+m.pkg.Name] = mirrorDigests[i]
	}
	for _, arch := range archs {
		files := map[string]PackageFile{}
		for _, p := range res.Installed[platform(arch)] {
			if _, ok := src.MirrorDir(p.Repository); ok {
				files[p.Name] = PackageFile{Digest: mirrorFiles[arch.ToAPK()+"/"+p.Name], Mirror: true}
				continue
			}
			f := PackageFile{URL: packageFileURL(p, arch)}
			if f.Digest = verify.digest(f.URL); f.Digest == "" {
				// apko did not fetch it: its cache entry was checked
				// before apko read it (verifyPackageCache).
				if dir, err := cacheEntry(cacheDir, src, p, arch); err == nil {
					f.Digest = entryFileDigest(dir, p)
				}
			}
			files[p.Name] = f
		}
		res.Files[platform(arch)] = files
	}

	digest, idx, err := oci.GenerateIndex(ctx, src.Config, imgs, date)
	if err != nil {
		return nil, fmt.Errorf("%s: build: image index: %w", ref, err)
	}
	o, ic, err := apkobuild.NewOptions(append(src.ApkoOptions(apkoCfg), append(common, apkobuild.WithTempDir(tmp))...)...)
	if err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	isboms, err := apkobuild.GenerateIndexSBOM(ctx, *o, *ic, digest, imgs)
	if err != nil {
		return nil, fmt.Errorf("%s: build: index SBOM: %w", ref, err)
	}
	for _, s := range isboms {
		b, err := os.ReadFile(s.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: build: index SBOM: %w", ref, err)
		}
		if b, err = finishIndexSBOM(b); err != nil {
			return nil, fmt.Errorf("%s: build: index SBOM: %w", ref, err)
		}
		res.SBOMs[IndexSBOM] = b
	}

	// The images read their layers from the layer cache; a cache of the
	// build's own goes with tmp, so then they are copied into memory.
	mi := &memIndex{images: map[v1.Hash]v1.Image{}}
	if mi.manifest, err = idx.RawManifest(); err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	if mi.mediaType, err = idx.MediaType(); err != nil {
		return nil, fmt.Errorf("%s: build: %w", ref, err)
	}
	for arch, im := range imgs {
		m := im
		if inMem {
			if m, err = inMemory(im); err != nil {
				return nil, fmt.Errorf("%s: build %s: %w", ref, arch.ToAPK(), err)
			}
		}
		h, err := m.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: build %s: %w", ref, arch.ToAPK(), err)
		}
		mi.images[h] = m
		res.Images[platform(arch)] = m
	}
	res.Index = mi
	clog.FromContext(ctx).Debug("built", "ref", ref, "index", digest.DigestStr(), "archs", len(archs), "elapsed", time.Since(start))
	return res, nil
}

// archResult is one architecture's image with what Build reports about it.
type archResult struct {
	image         v1.Image
	installed     []resolve.Package
	sbom          []byte
	fs            inspect.FS
	built, reused int
}

// buildArch builds the image of one architecture and returns it with the
// installed packages, the SPDX SBOM and its root filesystem.
func buildArch(ctx context.Context, img compile.Image, src *resolve.Sources, lock *resolve.Lock, arch types.Architecture, common []apkobuild.Option, cache *layercache.Cache, tars func() LayerTar, own bool, tmp string) (*archResult, error) {
	ref := img.Ref
	fail := func(what string, err error) (*archResult, error) {
		return nil, fmt.Errorf("%s: build %s: %s: %w", ref, arch.ToAPK(), what, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fail("temporary directory", err)
	}
	locked := lock.Packages(arch)
	cfg := resolve.ApkoConfig(img.Config)
	if cfg.Layering == nil {
		cfg.Layering = DefaultLayering()
	}
	cfg.Archs = []types.Architecture{arch}
	cfg.Contents.Packages = make([]string, 0, len(locked))
	for _, p := range locked {
		cfg.Contents.Packages = append(cfg.Contents.Packages, p.Name+"="+p.Version)
	}
	opts := slices.Concat(src.ApkoOptions(cfg), common, []apkobuild.Option{
		apkobuild.WithArch(arch),
		apkobuild.WithTempDir(tmp),
	})
	mfs := newModeFS()
	bc, err := apkobuild.New(ctx, mfs, opts...)
	if err != nil {
		return fail("apko", err)
	}
	var (
		layers    []v1.Layer
		rootfs    inspect.FS
		built     int
		apkPkgs   []*apk.Package
		installed []resolve.Package
	)
	if own && ownLayering(cfg.Layering) {
		// hic lays out the layers itself, so that a layer the cache holds
		// is not written, hashed or compressed (assemble.go).
		if err := bc.BuildImage(ctx); err != nil {
			return fail("install", err)
		}
		if err := setRuntimeRepositories(ctx, bc); err != nil {
			return fail("install", err)
		}
		if apkPkgs, installed, err = checkInstalled(bc, locked); err != nil {
			return nil, fmt.Errorf("%s: build %s: %w", ref, arch.ToAPK(), err)
		}
		ips, err := bc.InstalledPackages()
		if err != nil {
			return fail("installed packages", err)
		}
		planned, err := planLayers(ctx, mfs, ips, cfg.Layering.Budget)
		if err != nil {
			return fail("layers", err)
		}
		if rootfs, err = layerFSOf(mfs, planned); err != nil {
			return fail("read layers", err)
		}
		sums := make(map[string]string, len(installed))
		for _, p := range installed {
			sums[p.Name+"="+p.Version] = p.Checksum
		}
		if layers, built, err = assembleLayers(ctx, mfs, cache, planned, sums, tars); err != nil {
			return fail("layers", err)
		}
	} else {
		if layers, err = bc.BuildLayers(ctx); err != nil {
			return fail("install", err)
		}
		if apkPkgs, installed, err = checkInstalled(bc, locked); err != nil {
			return nil, fmt.Errorf("%s: build %s: %w", ref, arch.ToAPK(), err)
		}
		// The checks read the tar files apko wrote, before compression.
		if rootfs, err = layerFS(layers); err != nil {
			return fail("read layers", err)
		}
		if layers, built, err = cachedLayers(ctx, cache, layers); err != nil {
			return fail("layers", err)
		}
	}
	if d, err := bc.GetBuildDateEpoch(); err != nil {
		return fail("build date", err)
	} else if !d.Equal(lock.BuildDate()) {
		return fail("build date", fmt.Errorf("apko uses %s, not the packages' %s: SOURCE_DATE_EPOCH is set in the environment; unset it",
			d.Format(time.RFC3339), lock.BuildDate().Format(time.RFC3339)))
	}
	im, err := oci.BuildImageFromLayers(ctx, bc.BaseImage(), layers, bc.ImageConfiguration(), lock.BuildDate(), bc.Arch())
	if err != nil {
		return fail("image", err)
	}
	if im, err = withSpecConfig(im, img); err != nil {
		return fail("image", err)
	}
	sboms, err := bc.GenerateImageSBOM(ctx, arch, im)
	if err != nil {
		return fail("SBOM", err)
	}
	if len(sboms) != 1 {
		return fail("SBOM", fmt.Errorf("apko wrote %d SBOMs, want 1", len(sboms)))
	}
	sbom, err := os.ReadFile(sboms[0].Path)
	if err != nil {
		return fail("SBOM", err)
	}
	if sbom, err = completeSBOM(sbom, apkPkgs, arch.ToAPK()); err != nil {
		return fail("SBOM", err)
	}
	// The index SBOM is generated from the files in the SBOM directory.
	if err := os.WriteFile(sboms[0].Path, sbom, 0o644); err != nil {
		return fail("SBOM", err)
	}
	return &archResult{image: im, installed: installed, sbom: sbom, fs: rootfs, built: built, reused: len(layers) - built}, nil
}

// checkInstalled compares what apko installed with the lock: the same
// packages, each with the locked control checksum (computed by apko from
// the file it installed). It returns apko's view of the installed packages,
// in installation order, and the lock's, sorted by name.
func checkInstalled(bc *apkobuild.Context, locked []resolve.Package) ([]*apk.Package, []resolve.Package, error) {
	got, err := bc.InstalledPackages()
	if err != nil {
		return nil, nil, fmt.Errorf("installed packages: %w", err)
	}
	var pkgs []*apk.Package
	byName := make(map[string]resolve.Package, len(locked))
	for _, p := range locked {
		byName[p.Name] = p
	}
	var out []resolve.Package
	var extra []string
	for _, ip := range got {
		p, ok := byName[ip.Name]
		if !ok || p.Version != ip.Version {
			extra = append(extra, ip.Name+"-"+ip.Version)
			continue
		}
		if c := ip.ChecksumString(); c != p.Checksum {
			return nil, nil, fmt.Errorf("install %s from %s: apko installed checksum %s, the lock says %s "+
				"(a file changed during the build, or apko's process-wide package cache holds an older package of the same name and version)",
				p, p.Repository, c, p.Checksum)
		}
		delete(byName, ip.Name)
		out = append(out, p)
		pkgs = append(pkgs, &ip.Package)
	}
	if len(extra) > 0 || len(byName) > 0 {
		var missing []string
		for n := range byName {
			missing = append(missing, n)
		}
		return nil, nil, fmt.Errorf("installed packages differ from the lock: not locked %v, not installed %v", sortStrings(extra), sortStrings(missing))
	}
	slices.SortFunc(out, func(a, b resolve.Package) int { return strings.Compare(a.Name, b.Name) })
	return pkgs, out, nil
}

// versionedSources returns the sources of cfg with each mirror whose indexes
// have a digest replaced by a symbolic link to it, under root, whose name
// derives from the mirror's path and the digest.
func versionedSources(cfg types.ImageConfiguration, pins map[string]string, mirrors []resolve.Mirror, digests map[string]string, root string) (*resolve.Sources, error) {
	out := slices.Clone(mirrors)
	for i, m := range out {
		d, ok := digests[strings.TrimSuffix(m.URL, "/")]
		if !ok {
			continue
		}
		dir, err := filepath.Abs(m.Dir)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(dir + "\x00" + d))
		link := filepath.Join(root, hex.EncodeToString(sum[:16]))
		if target, err := os.Readlink(link); err != nil || target != dir {
			if err := os.MkdirAll(root, 0o755); err != nil {
				return nil, err
			}
			tmp, err := os.MkdirTemp(root, ".link-")
			if err != nil {
				return nil, err
			}
			err = os.Symlink(dir, filepath.Join(tmp, "l"))
			if err == nil {
				err = os.Rename(filepath.Join(tmp, "l"), link) // atomic, also over an old link
			}
			os.RemoveAll(tmp)
			if err != nil {
				return nil, fmt.Errorf("mirror %s: %w", m.URL, err)
			}
		}
		out[i].Dir = link
	}
	return resolve.NewSources(cfg, out, pins)
}

// platform returns the OCI platform string of arch: "linux/amd64".
func platform(arch types.Architecture) string { return "linux/" + arch.String() }

// imageTag returns the image's most specific tag as "repository:tag", or "".
func imageTag(img compile.Image) string {
	if img.Repository == "" || len(img.Tags) == 0 {
		return ""
	}
	return img.Repository + ":" + img.Tags[len(img.Tags)-1]
}
