// Command mkrepo builds the example's hello program for amd64 and arm64 and
// writes the signed local APK repository the example catalog builds from
// (see examples/README.md). Run it from the root of the hic repository:
//
//	go run ./examples/mkrepo -out /tmp/hello-mirror
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hic-build/hic/examples/hellorepo"
)

func main() {
	out := flag.String("out", "out/hello-mirror", "mirror root to write (holds mirrors.json and wolfi/)")
	flag.Parse()
	if err := run(context.Background(), *out); err != nil {
		fmt.Fprintf(os.Stderr, "mkrepo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	bins, err := os.MkdirTemp("", "hello-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bins)
	paths, err := hellorepo.BuildBinaries(ctx, ".", bins)
	if err != nil {
		return err
	}
	repo, err := hellorepo.Write(ctx, out, paths)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d packages for %v to %s\n", len(repo.Packages), repo.Archs, repo.Dir)
	fmt.Printf("build with: hic -C examples/catalog build --all --mirrors %s --out out/examples --key out/keys/hic.key\n", out)
	fmt.Printf("        or: hic -C examples/catalog build --all --mirror %s=%s --out out/examples --key out/keys/hic.key\n", hellorepo.URL, filepath.Join(out, hellorepo.RepoDir))
	fmt.Printf("(mkdir -p out/keys && hic keygen --out out/keys makes the key; --unsigned builds without one)\n")
	return nil
}
