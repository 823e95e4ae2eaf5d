package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
	archs := Archs(img.Config)
	if len(archs) == 0 {
		return nil, fmt.Errorf("%s: resolve: the configuration names no architecture", ref)
	}
	src, err := NewSources(img.Config, opts.Mirrors)
	if err != nil {
		return nil, fmt.Errorf("%s: resolve: %w", ref, err)
	}
	tmp, err := os.MkdirTemp(opts.TempDir, "hic-resolve-")
	if err != nil {
		return nil, fmt.Errorf("%s: resolve: %w", ref, err)
	}
	defer os.RemoveAll(tmp)
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(tmp, "cache")
	}

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
	opts := append(src.ApkoOptions(img.Config),
		build.WithArch(arch),
		build.WithCache(cacheDir, false, apk.NewCache(true)),
		build.WithTempDir(tmp),
		build.WithVCS(false),
		build.WithSBOMFormats(nil),
	)
	if transport != nil {
		opts = append(opts, build.WithTransport(transport))
	}
	bc, err := build.New(ctx, tarfs.New(), opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: resolve %s from %s: %w", ref, arch.ToAPK(), repos, err)
	}
	resolved, _, err := bc.APK().ResolveWorld(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: resolve %s (%s) from %s: %w", ref, culprit(ctx, bc, img.Config.Contents.Packages), arch.ToAPK(), repos, err)
	}
	pkgs := make([]Package, 0, len(resolved))
	for _, rp := range resolved {
		loc := strings.TrimSuffix(rp.Repository().URI, "/"+arch.ToAPK())
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
