package apkrepo_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/build"
	"chainguard.dev/apko/pkg/build/types"
	"chainguard.dev/apko/pkg/tarfs"
	"github.com/chainguard-dev/clog"

	"github.com/hic-build/hic/compiler/apkrepo"
)

// A typical test setup: synthesize the packages a catalog entry needs, add
// one package with real bytes, write a signed repository and hand it to
// apko, which resolves and installs from it offline.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "apkrepo-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	key, err := apkrepo.GenerateKey("hic-example")
	if err != nil {
		log.Fatal(err)
	}
	pkgs := apkrepo.Synthesize(apkrepo.SynthOptions{
		Distro: apkrepo.DistroWolfi,
		Archs:  []string{"x86_64"},
		Scale:  0.001, // a thousandth of real package sizes
		Requests: []apkrepo.Request{{
			Name: "nginx", Version: "1.27.3-r0",
			Executables: []string{"/usr/sbin/nginx"},
			Depends:     []string{"pcre2"}, // unknown names become small library packages
		}},
	})
	// Your own package, with real bytes, next to the synthesized ones.
	pkgs = append(pkgs, apkrepo.Package{
		Name: "nginx-config", Version: "0.1-r0", Arch: "x86_64", License: "Apache-2.0",
		Depends: []string{"nginx"},
		Files:   []apkrepo.File{{Path: "etc/nginx/nginx.conf", Data: []byte("events {}\n")}},
	})
	repo, err := apkrepo.WriteRepository(ctx, dir, key, pkgs)
	if err != nil {
		log.Fatal(err)
	}
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
	fmt.Println("keyring:", rel(repo.KeyPath))
	fmt.Println("index:  ", rel(repo.IndexPath("x86_64")))

	// apko: the repository and key are build-only extras, so no host path
	// ends up in the image.
	ic := types.ImageConfiguration{
		Contents: types.ImageContents{
			RuntimeOnlyRepositories: []string{"https://packages.wolfi.dev/os"},
			Packages:                []string{"nginx=1.27.2-r0", "nginx-config"},
		},
		Archs: []types.Architecture{types.ParseArchitecture("x86_64")},
	}
	tmp, err := os.MkdirTemp("", "apkrepo-example-build")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	quiet := clog.WithLogger(ctx, clog.New(slog.DiscardHandler))
	bc, err := build.New(quiet, tarfs.New(),
		build.WithImageConfiguration(ic),
		build.WithArch(types.ParseArchitecture("x86_64")),
		build.WithExtraBuildRepos([]string{repo.Dir}),
		build.WithExtraKeys([]string{repo.KeyPath}),
		build.WithSourceDateEpoch(time.Unix(0, 0)),
		build.WithTempDir(tmp),
		build.WithCache(filepath.Join(tmp, "cache"), false, apk.NewCache(true)),
	)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := bc.BuildLayers(quiet); err != nil {
		log.Fatal(err)
	}
	installed, err := bc.InstalledPackages()
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range installed {
		fmt.Println("installed", p.Name, p.Version)
	}
	// Output:
	// keyring: keys/hic-example.rsa.pub
	// index:   x86_64/APKINDEX.tar.gz
	// installed ld-linux 2.42-r0
	// installed wolfi-baselayout 20230201-r24
	// installed glibc 2.42-r0
	// installed pcre2 1.0.0-r0
	// installed nginx 1.27.2-r0
	// installed nginx-config 0.1-r0
}

// BuildAPK makes a single signed package, for tests that need an .apk
// file without a repository.
func ExampleBuildAPK() {
	key, err := apkrepo.GenerateKey("single")
	if err != nil {
		log.Fatal(err)
	}
	b, err := apkrepo.BuildAPK(apkrepo.Package{
		Name: "hello", Version: "1.0.0-r0", Arch: "aarch64",
		Files: []apkrepo.File{
			{Path: "usr/bin/hello", Mode: 0o755, Size: 4096, Seed: 1}, // generated content
			{Path: "usr/bin/hi", Kind: apkrepo.KindSymlink, Target: "hello"},
		},
	}, key)
	if err != nil {
		log.Fatal(err)
	}
	p, err := apk.ParsePackage(context.Background(), bytes.NewReader(b), uint64(len(b)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Name, p.Version, p.Arch, p.InstalledSize)
	// Output: hello 1.0.0-r0 aarch64 4096
}
