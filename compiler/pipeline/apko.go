package pipeline

import (
	"context"
	"fmt"

	"github.com/hic-build/hic/compiler/build"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/layercache"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/smoke"
)

// ApkoBuilder is the Builder of a real catalog build: it resolves with
// compiler/resolve and builds with compiler/build (apko). Mirrors, CacheDir
// and TempDir are shared by both.
type ApkoBuilder struct {
	// Mirrors map catalog repository URLs to local directories.
	Mirrors []resolve.Mirror
	// CacheDir is apko's package cache, shared by all specs. Empty: none
	// (every build is cold).
	CacheDir string
	// TempDir is the parent of each call's temporary directory. Empty:
	// os.TempDir().
	TempDir string
	// Checked remembers the package files already verified in this process.
	// Nil: every build hashes every package file it installs.
	Checked *build.PackageChecks
	// Layers is the compressed-layer cache shared by the builds. Nil: each
	// build compresses every layer and holds its images in memory.
	Layers *layercache.Cache
	// Trees are the smoke tests' layer trees: a spec with smoke tests feeds
	// them the layers of the host's platform it writes, so those are not
	// decompressed again for its tests. Nil: none fed.
	Trees *smoke.LayerTrees
}

var _ Builder = ApkoBuilder{}

// Resolve locks img's packages with resolve.Resolve.
func (a ApkoBuilder) Resolve(ctx context.Context, img compile.Image) (Lock, error) {
	l, err := resolve.Resolve(ctx, img, resolve.Options{Mirrors: a.Mirrors, CacheDir: a.CacheDir, TempDir: a.TempDir})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Build builds img from lock (which must come from Resolve) with build.Build.
func (a ApkoBuilder) Build(ctx context.Context, img compile.Image, lock Lock) (*Built, error) {
	l, ok := lock.(*resolve.Lock)
	if !ok {
		return nil, fmt.Errorf("%s: build: lock is a %T, not a *resolve.Lock", img.Ref, lock)
	}
	opts := build.Options{Mirrors: a.Mirrors, CacheDir: a.CacheDir, TempDir: a.TempDir, Layers: a.Layers, Checked: a.Checked}
	if a.Trees != nil && len(img.Tests) > 0 {
		opts.LayerTars = func() build.LayerTar { return a.Trees.NewFeed() }
	}
	r, err := build.Build(ctx, img, l, opts)
	if err != nil {
		return nil, err
	}
	return FromResult(r), nil
}

// FromResult adapts a build.Result, with the filesystems the build read
// from its layers' tar streams.
func FromResult(r *build.Result) *Built {
	b := &Built{Index: r.Index, IndexSBOM: r.SBOMs[build.IndexSBOM], BuildDate: r.BuildDate}
	for _, p := range r.Platforms() {
		b.Platforms = append(b.Platforms, Platform{Platform: p, Image: r.Images[p], SBOM: r.SBOMs[p], Packages: r.Installed[p], Files: r.Files[p], FS: r.FS[p]})
	}
	return b
}
