// Package hellorepo writes the signed local APK repository the example
// catalog (examples/catalog) builds from: the base packages of a Wolfi-like
// distribution, synthesized by compiler/apkrepo, plus a "hello" package that
// holds the real static Go program of examples/hello for each architecture.
//
// The repository stands in for https://packages.wolfi.dev/os, the repository
// the catalog's wolfi distro names, and is signed with a key named
// "wolfi-signing" like the keyring the catalog trusts, so hic builds the
// example with
//
//	hic -C examples/catalog build --all --mirror https://packages.wolfi.dev/os=DIR/wolfi
//
// or, equivalently, --mirrors DIR (Write also writes DIR/mirrors.json).
package hellorepo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hic-build/hic/compiler/apkrepo"
)

const (
	// URL is the catalog repository the example repository mirrors.
	URL = "https://packages.wolfi.dev/os"
	// KeyName is the name of the signing key: the catalog's keyring is
	// https://packages.wolfi.dev/os/wolfi-signing.rsa.pub.
	KeyName = "wolfi-signing"
	// Package and Version are the hello package, as examples/catalog pins it.
	Package = "hello"
	Version = "1.0.0-r0"
	// RepoDir is the repository's directory under the root Write is given.
	RepoDir = "wolfi"
)

// GOARCHes maps each Go architecture the example is built for to its APK
// architecture.
var GOARCHes = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// BuildTime stamps every package, so the image's build date (the newest
// package build time) is fixed and the example builds reproducibly.
var BuildTime = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// BuildBinaries builds examples/hello of the hic module at moduleRoot as a
// static Linux binary for every architecture of GOARCHes (CGO_ENABLED=0,
// -trimpath) into dir and returns their paths by APK architecture.
func BuildBinaries(ctx context.Context, moduleRoot, dir string) (map[string]string, error) {
	bins := map[string]string{}
	for goarch, apkArch := range GOARCHes {
		out, err := filepath.Abs(filepath.Join(dir, "hello-"+goarch))
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./examples/hello")
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build examples/hello for %s: %w\n%s", goarch, err, b)
		}
		bins[apkArch] = out
	}
	return bins, nil
}

// Packages returns the repository's packages: the synthesized Wolfi base
// packages plus hello, which installs the binary of each APK architecture
// of bins as /usr/bin/hello.
func Packages(bins map[string]string) ([]apkrepo.Package, error) {
	var archs []string
	for a := range bins {
		archs = append(archs, a)
	}
	pkgs := apkrepo.Synthesize(apkrepo.SynthOptions{Distro: apkrepo.DistroWolfi, Archs: archs, BuildTime: BuildTime})
	for _, a := range archs {
		b, err := os.ReadFile(bins[a])
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, apkrepo.Package{
			Name: Package, Version: Version, Arch: a,
			Description: "A static Go program that greets you with its uid and architecture",
			License:     "Apache-2.0",
			URL:         "https://github.com/hic-build/hic/tree/main/examples/hello",
			Files:       []apkrepo.File{{Path: "usr/bin/hello", Mode: 0o755, Data: b}},
			// As melange records every program a package ships.
			Provides:  []string{"cmd:hello=" + Version},
			BuildTime: BuildTime,
		})
	}
	return pkgs, nil
}

// Write writes the signed repository to root/wolfi (with a fresh key, whose
// public half is root/wolfi/keys/wolfi-signing.rsa.pub) and root/mirrors.json
// mapping URL to it. bins are the hello binaries by APK architecture.
func Write(ctx context.Context, root string, bins map[string]string) (*apkrepo.Repository, error) {
	pkgs, err := Packages(bins)
	if err != nil {
		return nil, err
	}
	key, err := apkrepo.GenerateKey(KeyName)
	if err != nil {
		return nil, err
	}
	repo, err := apkrepo.WriteRepository(ctx, filepath.Join(root, RepoDir), key, pkgs)
	if err != nil {
		return nil, err
	}
	// The manifest hic mirror writes (compiler/mirror.Manifest), written
	// here without importing the compiler so this package stays light.
	type entry struct {
		URL string `json:"url"`
		Dir string `json:"dir"`
	}
	m, err := json.MarshalIndent(map[string][]entry{"mirrors": {{URL, RepoDir}}}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "mirrors.json"), append(m, '\n'), 0o644); err != nil {
		return nil, err
	}
	return repo, nil
}
