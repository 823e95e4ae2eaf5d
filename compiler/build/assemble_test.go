package build

import (
	"archive/tar"
	"crypto/sha1" //nolint:gosec // apk's file checksums
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/layercache"
	"github.com/hic-build/hic/compiler/resolve"
)

// layoutPackages are shaped as a distro's are: a base layout whose /lib is
// a symbolic link to usr/lib (merged /usr), a C library installing through
// it, subpackages of one origin, a setuid program, a package shipping
// /etc/passwd that the spec's accounts rewrite, and more origins than the
// layering budget.
func layoutPackages() []apkrepo.Package {
	var pkgs []apkrepo.Package
	for _, a := range []string{"x86_64", "aarch64"} {
		bt := buildTime
		pkgs = append(pkgs,
			apkrepo.Package{Name: "base-layout", Version: "1-r0", Arch: a, BuildTime: bt.Add(-3 * time.Hour), Files: []apkrepo.File{
				{Path: "usr/lib", Kind: apkrepo.KindDir},
				{Path: "lib", Kind: apkrepo.KindSymlink, Target: "usr/lib"},
				{Path: "tmp", Kind: apkrepo.KindDir, Mode: 0o1777},
				{Path: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\n")},
				{Path: "etc/group", Data: []byte("root:x:0:\n")},
				{Path: "etc/os-release", Data: []byte("ID=hic\n")},
			}},
			apkrepo.Package{Name: "libc", Version: "2.42-r1", Arch: a, Depends: []string{"base-layout"}, BuildTime: bt.Add(-2 * time.Hour), Files: []apkrepo.File{
				{Path: "lib/ld-linux.so.2", Mode: 0o755, Size: 96 << 10, Seed: 1},
				{Path: "usr/lib/libc.so.6", Mode: 0o755, Size: 256 << 10, Seed: 2},
				{Path: "usr/share/libc/locale", Size: 8 << 10, Seed: 3},
			}},
			apkrepo.Package{Name: "libc-utils", Version: "2.42-r1", Arch: a, Origin: "libc", Depends: []string{"libc"}, BuildTime: bt.Add(-2 * time.Hour), Files: []apkrepo.File{
				{Path: "usr/bin/ldd", Mode: 0o755, Size: 4 << 10, Seed: 4},
				{Path: "usr/bin/su", Mode: 0o4755, Size: 4 << 10, Seed: 5},
			}},
			apkrepo.Package{Name: "python-3.13", Version: "3.13.9-r0", Arch: a, Depends: []string{"libc"}, BuildTime: bt.Add(-time.Hour), Files: []apkrepo.File{
				{Path: "usr/bin/python3.13", Mode: 0o755, Size: 512 << 10, Seed: 6},
				{Path: "usr/bin/python3", Kind: apkrepo.KindSymlink, Target: "python3.13"},
				{Path: "usr/lib/python3.13/os.py", Size: 40 << 10, Seed: 7},
				{Path: "usr/lib/python3.13/json/__init__.py", Size: 12 << 10, Seed: 8},
				{Path: "usr/lib/python3.13/empty.py"},
			}},
			apkrepo.Package{Name: "ca-certificates-bundle", Version: "20250911-r0", Arch: a, BuildTime: bt.Add(-4 * time.Hour), Files: []apkrepo.File{
				{Path: "etc/ssl/certs/ca-certificates.crt", Size: 200 << 10, Seed: 9},
			}},
			apkrepo.Package{Name: "tzdata", Version: "2025b-r0", Arch: a, BuildTime: bt.Add(-5 * time.Hour), Files: []apkrepo.File{
				{Path: "usr/share/zoneinfo/UTC", Size: 1 << 10, Seed: 10},
				{Path: "usr/share/zoneinfo/Europe/Paris", Size: 2 << 10, Seed: 11},
			}},
			apkrepo.Package{Name: "zlib", Version: "1.3.1-r0", Arch: a, Depends: []string{"libc"}, BuildTime: bt.Add(-6 * time.Hour), Files: []apkrepo.File{
				{Path: "usr/lib/libz.so.1", Mode: 0o755, Size: 90 << 10, Seed: 12},
			}},
			apkrepo.Package{Name: "app", Version: "1.0-r0", Arch: a, Depends: []string{"python-3.13", "ca-certificates-bundle", "tzdata", "zlib", "libc-utils"}, BuildTime: bt, Files: []apkrepo.File{
				{Path: "usr/bin/app", Mode: 0o755, Size: 16 << 10, Seed: 13},
				{Path: "var/lib/app/state", Size: 100, Seed: 14},
			}},
		)
	}
	return pkgs
}

func layoutImage(budget int) compile.Image {
	img := testImage()
	img.Ref = "app:1-test-runtime"
	img.Config.Contents.Packages = []string{"app"}
	img.Config.Entrypoint = compile.Entrypoint{Command: "/usr/bin/app"}
	img.Config.Layering = &compile.Layering{Strategy: "origin", Budget: budget}
	img.Config.Paths = []compile.PathMutation{
		{Path: "/var/lib/app", Type: "directory", UID: 65532, GID: 65532, Permissions: 0o750, Recursive: true},
		{Path: "/usr/bin/python", Type: "symlink", Source: "/usr/bin/python3"},
		{Path: "/usr/bin/app2", Type: "hardlink", Source: "/usr/bin/app"},
		{Path: "/usr/share/zoneinfo/UTC", Type: "permissions", Permissions: 0o600},
		{Path: "/run/app", Type: "empty-file", UID: 65532, GID: 65532, Permissions: 0o644},
	}
	return img
}

// hic's layering gives the layers apko's BuildLayers gives, byte for byte
// (so the image digests the apko CLI makes from the same configuration),
// with the layer cache cold, warm, shared, damaged or deleted; a warm build
// writes, hashes and compresses no layer.
func TestOwnLayeringEqualsApko(t *testing.T) {
	ctx := testCtx(t)
	key := newKey(t, "hic-test")
	dir := writeMirror(t, key, layoutPackages())
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	// One cache for every variant: a layer of one must not stand for a
	// layer of another whose files differ only in content (etc/passwd with
	// another home directory) or metadata.
	cacheDir := filepath.Join(t.TempDir(), "layers")
	other := layoutImage(10)
	other.Config.Accounts.Users[0].HomeDir = "/home/another"
	other.Config.Paths[3].Permissions = 0o640
	variants := []compile.Image{layoutImage(10), other, layoutImage(3), layoutImage(1)}
	for i, img := range variants {
		budget := img.Config.Layering.Budget
		lock, err := resolve.Resolve(ctx, img, resolve.Options{Mirrors: mirrors, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		build := func(c *layercache.Cache, apko bool) *Result {
			t.Helper()
			r, err := Build(ctx, img, lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), Layers: c, apkoLayers: apko})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		layers := func(r *Result) map[string][]v1.Descriptor {
			out := map[string][]v1.Descriptor{}
			for p, im := range r.Images {
				m, err := im.Manifest()
				if err != nil {
					t.Fatal(err)
				}
				out[p] = m.Layers
			}
			return out
		}
		ref := build(nil, true)
		want := digest(t, ref.Index)
		open := func() *layercache.Cache {
			c, err := layercache.Open(cacheDir, 0)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		for _, run := range []struct {
			what  string
			cache func() *layercache.Cache
		}{
			{"no cache", func() *layercache.Cache { return nil }},
			{"first", open},
			{"again", open},
		} {
			r := build(run.cache(), false)
			if diff := cmp.Diff(layers(ref), layers(r)); diff != "" {
				t.Errorf("variant %d, budget %d, %s: layers differ from apko's (-apko +hic):\n%s", i, budget, run.what, diff)
			}
			if got := digest(t, r.Index); got != want {
				t.Errorf("budget %d, %s: index %s, apko's layering gives %s", budget, run.what, got, want)
			}
			if run.what == "first" && i == 0 && r.LayersReused != 0 {
				t.Errorf("budget %d, cold: %d layers reused, want 0", budget, r.LayersReused)
			}
			if run.what == "again" && r.LayersBuilt != 0 {
				t.Errorf("budget %d, warm: %d layers compressed, want 0", budget, r.LayersBuilt)
			}
			// The checks see the same files as from apko's tars.
			for p := range ref.FS {
				if diff := cmp.Diff(entries(t, ref.FS[p]), entries(t, r.FS[p])); diff != "" {
					t.Errorf("budget %d, %s, %s: filesystem the checks read (-apko +hic):\n%s", budget, run.what, p, diff)
				}
			}
		}
	}
}

// A file is described as the package file it was installed from only while
// it is that file: rewritten in place with content of the same size, or
// replaced through a symbolic link, it is described by its content.
func TestContentID(t *testing.T) {
	m := newModeFS()
	for _, d := range []string{"usr/bin", "usr/lib"} {
		if err := m.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Symlink("usr/lib", "lib"); err != nil {
		t.Fatal(err)
	}
	p := &apk.Package{Name: "p", Version: "1-r0", Origin: "o"}
	q := &apk.Package{Name: "q", Version: "1-r0", Origin: "o"}
	// q installs usr/lib/y, then replaces it through the link.
	data := fstest.MapFS{"usr/bin/x": {Data: []byte("abcd")}, "usr/lib/y": {Data: []byte("ijkl")}, "lib/y": {Data: []byte("efgh")}}
	for _, f := range []struct {
		name string
		pkg  *apk.Package
	}{{"usr/bin/x", p}, {"usr/lib/y", q}, {"lib/y", q}} {
		sum := sha1.Sum(data[f.name].Data)
		hdr := tar.Header{Name: f.name, Typeflag: tar.TypeReg, Size: 4, Mode: 0o644,
			PAXRecords: map[string]string{"APK-TOOLS.checksum.SHA1": hex.EncodeToString(sum[:])}}
		if ok, err := m.WriteHeader(hdr, data, f.pkg); err != nil || !ok {
			t.Fatalf("install %s: %v %v", f.name, ok, err)
		}
	}
	locked := map[string]string{"p=1-r0": "Q1p", "q=1-r0": "Q1q"}
	id := func(path string, own *apk.Package) string {
		t.Helper()
		s, err := contentID(m, &layerEntry{hdr: tar.Header{Name: path, Size: 4}, path: path, own: own}, locked)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hash := func(b string) string { return fmt.Sprintf("content sha256:%x", sha256.Sum256([]byte(b))) }
	if got, want := id("usr/bin/x", p), `package p=1-r0 Q1p "usr/bin/x" 4`; got != want {
		t.Errorf("installed file: %s, want %s", got, want)
	}
	if got, want := id("usr/lib/y", q), hash("efgh"); got != want {
		t.Errorf("file replaced through a symbolic link: %s, want %s", got, want)
	}
	f, err := m.OpenFile("usr/bin/x", os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("wxyz")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got, want := id("usr/bin/x", p), hash("wxyz"); got != want {
		t.Errorf("rewritten file: %s, want %s", got, want)
	}
}
