package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/build"
	"chainguard.dev/apko/pkg/build/types"
	"chainguard.dev/apko/pkg/tarfs"

	"github.com/hic-build/hic/compiler/compile"
)

// Resolve locks every package img installs, for each of its architectures,
// with apko's resolver. It reads only repository indexes, never package
// files. An unresolvable package returns an error naming the spec ref, the
// package and the repositories.
func Resolve(ctx context.Context, img compile.Image, opts Options) (*Lock, error) {
	ref := img.Ref
	cfg := ApkoConfig(img.Config)
	archs := Archs(cfg)
	if len(archs) == 0 {
		return nil, fmt.Errorf("%s: resolve: the configuration names no architecture", ref)
	}
	src, err := NewSources(cfg, opts.Mirrors, img.KeyPins)
	if err != nil {
		return nil, fmt.Errorf("%s: resolve: %w", ref, err)
	}
	tmp, cacheDir, err := WorkDir(opts.TempDir, "hic-resolve-", opts.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("%s: resolve: %w", ref, err)
	}
	defer os.RemoveAll(tmp)

	lock := &Lock{Ref: ref, Archs: map[string][]Package{}}
	for _, arch := range archs {
		if err := verifyIndexes(src, arch); err != nil {
			return nil, fmt.Errorf("%s: resolve %s: %w", ref, arch.ToAPK(), err)
		}
		pkgs, err := resolveArch(ctx, img, src, arch, cacheDir, filepath.Join(tmp, arch.ToAPK()), opts.Transport)
		if err != nil {
			return nil, err
		}
		lock.Archs[arch.ToAPK()] = pkgs
	}
	return lock, nil
}

// WorkDir makes the temporary directory of one apko run (resolve or build)
// under tempDir (empty: os.TempDir()), named prefix and a random suffix, and
// returns it with the apk cache directory the run uses: cacheDir, or a fresh
// "cache" directory inside tmp when cacheDir is empty. The caller removes
// tmp.
func WorkDir(tempDir, prefix, cacheDir string) (tmp, cache string, err error) {
	tmp, err = os.MkdirTemp(tempDir, prefix)
	if err != nil {
		return "", "", err
	}
	if cacheDir == "" {
		cacheDir = filepath.Join(tmp, "cache")
	}
	return tmp, cacheDir, nil
}

// verifyIndexes checks the signature of every mirror's index of arch
// before apko reads them: apko's process-wide index cache keys local indexes
// by path and modification time, not by the keys they were checked with.
func verifyIndexes(src *Sources, arch types.Architecture) error {
	for _, u := range sortedKeys(src.mirrors) {
		path := filepath.Join(src.mirrors[u], arch.ToAPK(), "APKINDEX.tar.gz")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue // a mirror may lack an architecture, as apko allows
		}
		if _, _, err := verifiedIndex(path, src.TrustedKeys(u)); err != nil {
			return fmt.Errorf("mirror of %s: %w", u, err)
		}
	}
	return nil
}

var reDisqualified = regexp.MustCompile(`([A-Za-z0-9._+-]+)-([0-9][^\s"]*-r[0-9]+)\.apk disqualified`)

// notInRepository phrases apko's solver failure for a pin the repository
// does not have ("… web-2.1.0-r0.apk disqualified because …") as what it
// means: the package version is not there; with mirrors, the mirror is
// stale and hic mirror regenerates it.
func notInRepository(err error, pkg, arch, repos string, mirrored bool) (string, bool) {
	text := err.Error()
	if !strings.Contains(text, "disqualified because") {
		return "", false
	}
	var have []string
	for _, m := range reDisqualified.FindAllStringSubmatch(text, -1) {
		if v := m[2]; !slices.Contains(have, v) {
			have = append(have, v)
		}
	}
	if len(have) == 0 {
		return "", false
	}
	name, _, _ := strings.Cut(pkg, "=")
	it := "it has " + name + " " + strings.Join(have, ", ")
	if mirrored {
		return fmt.Sprintf("package %s is not in the mirror of %s (%s, %s); run hic mirror to regenerate the mirror from the catalog", pkg, repos, arch, it), true
	}
	return fmt.Sprintf("package %s is not in %s (%s, %s); fix the pin (hic bump moves pins to versions the repository has)", pkg, repos, arch, it), true
}

// Archs returns cfg's architectures, normalised and sorted.
func Archs(cfg types.ImageConfiguration) []types.Architecture {
	var archs []types.Architecture
	for _, a := range cfg.Archs {
		archs = append(archs, types.ParseArchitecture(string(a)))
	}
	slices.SortFunc(archs, func(a, b types.Architecture) int { return strings.Compare(a.ToAPK(), b.ToAPK()) })
	return slices.Compact(archs)
}

func resolveArch(ctx context.Context, img compile.Image, src *Sources, arch types.Architecture, cacheDir, tmp string, transport http.RoundTripper) ([]Package, error) {
	ref := img.Ref
	repos := strings.Join(src.Config.Contents.RuntimeOnlyRepositories, ", ")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("%s: resolve %s: %w", ref, arch.ToAPK(), err)
	}
	opts := append(src.ApkoOptions(ApkoConfig(img.Config)),
		build.WithArch(arch),
		build.WithCache(cacheDir, false, apk.NewCache(true)),
		build.WithTempDir(tmp),
		build.WithVCS(false),
		build.WithSBOMFormats(nil),
	)
	if transport = KeyTransport(transport, img.KeyPins); transport != nil {
		opts = append(opts, build.WithTransport(transport))
	}
	bc, err := build.New(ctx, tarfs.New(), opts...)
	if err != nil {
		if kerr := KeyError(transport); kerr != nil {
			err = kerr // the cause, rather than apko's status code
		}
		return nil, fmt.Errorf("%s: resolve %s from %s: %w", ref, arch.ToAPK(), repos, err)
	}
	resolved, _, err := bc.APK().ResolveWorld(ctx)
	if err != nil {
		if kerr := KeyError(transport); kerr != nil {
			return nil, fmt.Errorf("%s: resolve %s from %s: %w", ref, arch.ToAPK(), repos, kerr)
		}
		pkg := culprit(ctx, bc, img.Config.Contents.Packages)
		if msg, ok := notInRepository(err, pkg, arch.ToAPK(), repos, len(src.mirrors) > 0); ok {
			return nil, fmt.Errorf("%s: %s", ref, msg)
		}
		return nil, fmt.Errorf("%s: resolve %s (%s) from %s: %w", ref, pkg, arch.ToAPK(), repos, err)
	}
	pkgs := make([]Package, 0, len(resolved))
	for _, rp := range resolved {
		loc := strings.TrimSuffix(rp.Repository().URI, "/"+arch.ToAPK())
		if err := CheckPackageID(rp.Name, rp.Version, rp.Arch); err != nil {
			return nil, fmt.Errorf("%s: resolve %s: repository %s lists a package hic refuses: %w", ref, arch.ToAPK(), loc, err)
		}
		u, ok := src.URL(loc)
		if !ok {
			return nil, fmt.Errorf("%s: resolve %s (%s): repository %s is not one of the spec's", ref, rp.Name, arch.ToAPK(), loc)
		}
		pkgs = append(pkgs, Package{
			Name:       rp.Name,
			Version:    rp.Version,
			Arch:       rp.Arch,
			Repository: u,
			Checksum:   rp.ChecksumString(),
			Size:       rp.Size,
			BuildTime:  rp.BuildTime.UTC(),
		})
	}
	sortPackages(pkgs)
	return pkgs, nil
}

// culprit names the requested packages that fail to resolve on their own,
// or all requested packages if each resolves alone.
func culprit(ctx context.Context, bc *build.Context, world []string) string {
	var bad []string
	for _, p := range world {
		if err := bc.APK().SetWorld(ctx, []string{p}); err != nil {
			continue
		}
		if _, _, err := bc.APK().ResolveWorld(ctx); err != nil && !errors.Is(err, context.Canceled) {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		bad = world
	}
	return strings.Join(bad, " ")
}
