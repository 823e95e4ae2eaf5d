package apkrepo

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/build"
	"chainguard.dev/apko/pkg/build/types"
	"chainguard.dev/apko/pkg/tarfs"
	"github.com/chainguard-dev/clog"
)

// installed is what apko put in an image.
type installed struct {
	files    map[string]*tar.Header // by path without a leading slash
	versions map[string]string      // installed package name -> version
}

// apkoInstall resolves and installs packages from a local repository with
// apko as a library, offline, and returns the headers of the layer's files.
func apkoInstall(t *testing.T, repoDir, keyPath, arch string, packages ...string) (*installed, error) {
	t.Helper()
	ctx := clog.WithLogger(context.Background(), clog.New(slog.DiscardHandler))
	ic := types.ImageConfiguration{
		Contents: types.ImageContents{
			Packages: packages,
			// apko wants a repository in the image; the local one is a build-only extra.
			RuntimeOnlyRepositories: []string{"https://packages.example.invalid/os"},
		},
		Archs: []types.Architecture{types.ParseArchitecture(arch)},
	}
	bc, err := build.New(ctx, tarfs.New(),
		build.WithImageConfiguration(ic),
		build.WithArch(types.ParseArchitecture(arch)),
		build.WithExtraBuildRepos([]string{repoDir}),
		build.WithExtraKeys([]string{keyPath}),
		build.WithSourceDateEpoch(time.Unix(1700000000, 0)),
		build.WithTempDir(t.TempDir()),
		build.WithCache(t.TempDir(), false, apk.NewCache(true)),
	)
	if err != nil {
		return nil, err
	}
	layers, err := bc.BuildLayers(ctx)
	if err != nil {
		return nil, err
	}
	pkgs, err := bc.InstalledPackages()
	if err != nil {
		return nil, err
	}
	fsys := &installed{files: map[string]*tar.Header{}, versions: map[string]string{}}
	for _, p := range pkgs {
		fsys.versions[p.Name] = p.Version
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				return nil, err
			}
			fsys.files[strings.Trim(strings.TrimPrefix(h.Name, "./"), "/")] = h
		}
		rc.Close()
	}
	return fsys, nil
}
