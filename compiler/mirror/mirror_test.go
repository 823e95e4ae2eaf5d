package mirror

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/resolve"
)

func image(ref, distro string, repos, keyring, packages []string, entrypoint string) compile.Image {
	return compile.Image{
		Ref: ref,
		Config: compile.Config{
			Contents:   compile.Contents{Repositories: repos, Keyring: keyring, Packages: packages},
			Entrypoint: compile.Entrypoint{Command: entrypoint},
		},
		Metadata: compile.Metadata{Distro: distro, MainPackage: packages[len(packages)-1]},
	}
}

func TestGenerate(t *testing.T) {
	wolfi := "https://packages.wolfi.dev/os"
	alpineMain := "https://dl-cdn.alpinelinux.org/alpine/v3.23/main"
	alpineCommunity := "https://dl-cdn.alpinelinux.org/alpine/v3.23/community"
	imgs := []compile.Image{
		image("hello:1-wolfi-runtime", "wolfi", []string{wolfi}, []string{wolfi + "/wolfi-signing.rsa.pub"},
			[]string{"wolfi-baselayout", "hello=1.2.0-r0"}, "/usr/bin/hello --greet"),
		image("hello:1-alpine-3.23-runtime", "alpine-3.23", []string{alpineMain, alpineCommunity},
			[]string{"https://alpinelinux.org/keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"},
			[]string{"alpine-baselayout-data", "hello=1.2.0-r1"}, "/usr/bin/hello"),
	}
	dir := t.TempDir()
	m, err := Generate(context.Background(), imgs, Options{Dir: dir, Scale: 0.0001})
	if err != nil {
		t.Fatal(err)
	}
	want := []resolve.Mirror{
		{URL: alpineCommunity, Dir: "alpine-3.23/community"},
		{URL: alpineMain, Dir: "alpine-3.23/main"},
		{URL: wolfi, Dir: "wolfi"},
	}
	if diff := cmp.Diff(want, m.Mirrors, cmpopts.IgnoreFields(resolve.Mirror{}, "Keys")); diff != "" {
		t.Errorf("mirrors (-want +got):\n%s", diff)
	}
	// Each repository is signed by a key named after the catalog's keyring,
	// as a real mirror's would be, and holds the pinned versions.
	for _, f := range []string{
		"wolfi/keys/wolfi-signing.rsa.pub",
		"wolfi/x86_64/APKINDEX.tar.gz",
		"wolfi/aarch64/hello-1.2.0-r0.apk",
		"alpine-3.23/main/keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub",
		"alpine-3.23/main/x86_64/hello-1.2.0-r1.apk",
		// Without a universe, community is an empty signed index.
		"alpine-3.23/community/keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub",
		"alpine-3.23/community/x86_64/APKINDEX.tar.gz",
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("mirror lacks %s: %v", f, err)
		}
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range loaded {
		if !filepath.IsAbs(l.Dir) {
			t.Errorf("Load gave a relative directory %q", l.Dir)
		}
	}
	// Regenerating keeps the keys, so a rebuilt mirror gives the same images.
	before, _ := os.ReadFile(filepath.Join(dir, "wolfi/keys/wolfi-signing.rsa.pub"))
	if _, err := Generate(context.Background(), imgs, Options{Dir: dir, Scale: 0.0001}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "wolfi/keys/wolfi-signing.rsa.pub"))
	if string(before) != string(after) {
		t.Error("regenerating the mirror changed its key")
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of a directory without mirrors.json succeeded")
	}
}

// An interrupted run leaves the mirror it would have replaced as it was
// (an outside try: Ctrl-C during hic mirror deleted APKINDEX.tar.gz, and
// every build then said "nothing provides ..."), and no staging directory.
func TestInterruptedGenerateKeepsMirror(t *testing.T) {
	wolfi := "https://packages.wolfi.dev/os"
	imgs := []compile.Image{image("hello:1-wolfi-runtime", "wolfi", []string{wolfi}, []string{wolfi + "/wolfi-signing.rsa.pub"},
		[]string{"wolfi-baselayout", "hello=1.2.0-r0"}, "/usr/bin/hello")}
	dir := t.TempDir()
	if _, err := Generate(context.Background(), imgs, Options{Dir: dir, Scale: 0.0001}); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(dir, "wolfi/x86_64/APKINDEX.tar.gz")
	before, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, imgs, Options{Dir: dir, Scale: 0.0002}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate with a cancelled context: %v, want context.Canceled", err)
	}
	if after, err := os.ReadFile(index); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the old index after the interrupted run: %v (same bytes: %v)", err, bytes.Equal(before, after))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
