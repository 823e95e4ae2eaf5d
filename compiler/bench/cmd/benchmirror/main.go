// Command benchmirror writes the mirror of a set of compiled specs (the
// *.json files hic build writes under OUT/compiled), as hic mirror does for
// catalog refs, optionally with newer versions of some packages added: the
// benchmarks use it to measure a rebuild after one package was bumped.
//
//	go run ./compiler/bench/cmd/benchmirror -compiled OUT/compiled -out MIRROR -scale 1 [-bump tzdata=2099.1-r0]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/mirror"
)

func main() {
	compiled := flag.String("compiled", "", "directory of compiled specs (hic build's OUT/compiled)")
	out := flag.String("out", "", "mirror root to write")
	scale := flag.Float64("scale", 0.001, "fraction of realistic package sizes")
	var bumps []string
	flag.Func("bump", "NAME=VERSION: add this newer version of a package (repeatable)", func(s string) error {
		if n, v, ok := strings.Cut(s, "="); !ok || n == "" || v == "" {
			return fmt.Errorf("want NAME=VERSION, got %q", s)
		}
		bumps = append(bumps, s)
		return nil
	})
	flag.Parse()
	if *compiled == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "benchmirror: -compiled and -out are required")
		os.Exit(2)
	}
	if err := run(context.Background(), *compiled, *out, *scale, bumps); err != nil {
		fmt.Fprintln(os.Stderr, "benchmirror:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, compiled, out string, scale float64, bumps []string) error {
	files, err := filepath.Glob(filepath.Join(compiled, "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	var imgs []compile.Image
	for _, f := range files {
		if strings.HasSuffix(f, ".lock.json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var img compile.Image
		if err := json.Unmarshal(b, &img); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		imgs = append(imgs, img)
	}
	if len(imgs) == 0 {
		return fmt.Errorf("no compiled specs in %s", compiled)
	}
	// A bumped package is asked for by one extra image per distro that
	// pins it; the mirror then holds it next to the version it had, and
	// specs that do not pin the package resolve the newer one.
	seen := map[string]bool{}
	for _, img := range append([]compile.Image(nil), imgs...) {
		key := strings.Join(img.Config.Contents.Repositories, " ")
		if seen[key] || len(bumps) == 0 {
			continue
		}
		seen[key] = true
		extra := img
		extra.Ref = "bench-bump-" + img.Ref
		extra.Config.Contents.Packages = append(append([]string(nil), img.Config.Contents.Packages...), bumps...)
		imgs = append(imgs, extra)
	}
	m, err := mirror.Generate(ctx, imgs, mirror.Options{Dir: out, Scale: scale})
	if err != nil {
		return err
	}
	fmt.Printf("mirror of %d compiled specs (%d repositories) written to %s\n", len(files), len(m.Mirrors), out)
	return nil
}
