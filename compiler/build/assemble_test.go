package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // apk's file checksums
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	"github.com/hic-build/hic/compiler/testenv"
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
	checkOwnLayering(t, mirrors, cacheDir, variants, nil)
}

// realPackages are every .apk file of apko's module test data (paths in the
// module) that install together, by architecture: melange-built packages
// (a base layout and another that replaces it, a private repository's
// pair, GNU hello twice, one carrying the xattrs of the machine that built
// it), apko's minimal hello and, on aarch64, Alpine's alpine-baselayout as
// Alpine published it (abuild's tar: directory names with a trailing slash,
// PAX atime and ctime records, sticky and 0700 directories, a 0600 file,
// absolute symbolic links, empty directories, install scripts). Each set
// holds two packages of one name on different architectures ("hello") and
// one package without an origin (apko's hello). alpine-317's
// alpine-baselayout-3.4.0-r0.apk is a copy of 3.2.0-r23's bytes, so it is
// not listed twice.
var realPackages = map[string][]string{
	"x86_64": {
		"internal/cli/testdata/packages/x86_64/pretend-baselayout-1.0.0-r0.apk",
		"internal/cli/testdata/packages/x86_64/replayout-1.0.0-r0.apk",
		"internal/cli/testdata/private_packages/packages/x86_64/package-x-1.0.0-r0.apk",
		"internal/cli/testdata/private_packages/packages/x86_64/package-y-1.0.0-r0.apk",
		"pkg/apk/apk/testdata/hello-wolfi-2.12.1-r0.apk",
		"pkg/apk/apk/testdata/hello-0.1.0-r0.apk",
	},
	"aarch64": {
		"internal/cli/testdata/packages/aarch64/pretend-baselayout-1.0.0-r0.apk",
		"internal/cli/testdata/packages/aarch64/replayout-1.0.0-r0.apk",
		"internal/cli/testdata/private_packages/packages/aarch64/package-x-1.0.0-r0.apk",
		"internal/cli/testdata/private_packages/packages/aarch64/package-y-1.0.0-r0.apk",
		"pkg/apk/fs/testdata/hello-2.12-r0.apk",
		"pkg/apk/apk/testdata/alpine-316/alpine-baselayout-3.2.0-r23.apk",
		"pkg/apk/apk/testdata/replaces/replaces-0.0.1-r0.apk",
	},
}

// writeRealMirror writes a mirror of the real packages: each .apk file's
// own bytes, and an index per architecture made from the packages' control
// data and signed by key. The index leaves out the dependencies no package
// of the set satisfies (the C libraries, busybox, alpine-baselayout-data:
// apko's test data has none of them); apko reads dependencies from the
// index, not from the package.
func writeRealMirror(t *testing.T, key *apkrepo.Key, module string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mirror")
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", key.PublicKeyFileName()), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	for arch, files := range realPackages {
		if err := os.MkdirAll(filepath.Join(dir, arch), 0o755); err != nil {
			t.Fatal(err)
		}
		var pkgs []*apk.Package
		provided := map[string]bool{}
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(module, f))
			if err != nil {
				t.Fatal(err)
			}
			p, err := apk.ParsePackage(t.Context(), bytes.NewReader(data), uint64(len(data)))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if p.Arch != arch {
				t.Fatalf("%s: arch %s, listed under %s", f, p.Arch, arch)
			}
			if err := os.WriteFile(filepath.Join(dir, arch, p.Filename()), data, 0o644); err != nil {
				t.Fatal(err)
			}
			pkgs = append(pkgs, p)
			provided[p.Name] = true
			for _, pr := range p.Provides {
				provided[apk.ResolvePackageNameVersionPin(pr).Name] = true
			}
		}
		for _, p := range pkgs {
			p.Dependencies = slices.DeleteFunc(p.Dependencies, func(d string) bool {
				return !provided[apk.ResolvePackageNameVersionPin(d).Name]
			})
		}
		r, err := apk.ArchiveFromIndex(&apk.APKIndex{Description: "apko module test data", Packages: pkgs})
		if err != nil {
			t.Fatal(err)
		}
		idx, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := key.SignIndex(idx, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, arch, "APKINDEX.tar.gz"), signed, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func realImage(archs []string, pkgs []string, budget int) compile.Image {
	img := testImage()
	img.Ref = fmt.Sprintf("real:%s-%d-test-runtime", strings.Join(archs, "-"), budget)
	img.Config.Archs = archs
	img.Config.Contents.Packages = pkgs
	img.Config.Layering = &compile.Layering{Strategy: "origin", Budget: budget}
	img.Config.Paths = []compile.PathMutation{
		{Path: "/usr/bin/hello2", Type: "hardlink", Source: "/usr/bin/hello"},
		{Path: "/usr/share/info/hello.info", Type: "permissions", Permissions: 0o600},
	}
	return img
}

// hic's layering equals apko's BuildLayers, byte for byte, on packages
// this project did not write: every real package of apko's module test
// data (realPackages), in images of each architecture's whole set and of
// the packages both sets name, at several layering budgets, the layer cache
// cold and warm.
func TestOwnLayeringEqualsApkoRealPackages(t *testing.T) {
	key := newKey(t, "hic-test")
	dir := writeRealMirror(t, key, testenv.ApkoModule(t))
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	cacheDir := filepath.Join(t.TempDir(), "layers")
	amd64 := []string{"replayout", "package-y", "hello-wolfi", "hello"}
	arm64 := []string{"replayout", "package-y", "hello", "alpine-baselayout", "replaces"}
	both := []string{"replayout", "package-y", "hello"}
	var variants []compile.Image
	for _, budget := range []int{10, 4, 2, 1} {
		variants = append(variants,
			realImage([]string{"arm64"}, arm64, budget),
			realImage([]string{"amd64"}, amd64, budget))
	}
	// Only the aarch64 hello installs /usr/bin/hello.
	img := realImage([]string{"amd64", "arm64"}, both, 3)
	img.Config.Paths = nil
	variants = append(variants, img)
	checkOwnLayering(t, mirrors, cacheDir, variants, func(t *testing.T, img compile.Image, r *Result) {
		for _, p := range r.Platforms() {
			ls, err := r.Images[p].Layers()
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{}
			var largest int64
			for _, l := range ls {
				rc, err := l.Uncompressed()
				if err != nil {
					t.Fatal(err)
				}
				tr := tar.NewReader(rc)
				for {
					h, err := tr.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					n["type "+string(h.Typeflag)]++
					for k := range h.PAXRecords {
						if strings.HasPrefix(k, "SCHILY.xattr.") {
							k = "SCHILY.xattr.*"
						}
						n["pax "+k]++
					}
					if h.Mode&0o7000 != 0 {
						n[fmt.Sprintf("mode %o", h.Mode&0o7000)]++
					}
					n["format "+h.Format.String()]++
					largest = max(largest, h.Size)
				}
				rc.Close()
			}
			t.Logf("%s %s: %d layers, largest entry %d, %v", img.Ref, p, len(ls), largest, n)
			// What the whole aarch64 set brings into the layers: the
			// xattrs of GNU hello's files, alpine-baselayout's sticky
			// directories and symbolic links.
			if slices.Contains(img.Config.Contents.Packages, "alpine-baselayout") && (n["pax SCHILY.xattr.*"] == 0 || n["mode 1000"] < 2 || n["type 2"] < 3) {
				t.Errorf("%s %s: the layers lack the xattrs, sticky directories or symbolic links of the real packages: %v", img.Ref, p, n)
			}
		}
	})
}

// checkOwnLayering builds each of variants with apko's BuildLayers and with
// hic's layering (no cache, then the cache at cacheDir cold and warm) and
// compares every layer descriptor of every platform, the index digest and
// the filesystem the checks read. The cache is shared by the variants in
// order: the first builds cold.
func checkOwnLayering(t *testing.T, mirrors []resolve.Mirror, cacheDir string, variants []compile.Image, features func(*testing.T, compile.Image, *Result)) {
	t.Helper()
	ctx := testCtx(t)
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
		ref := build(nil, true)
		want := digest(t, ref.Index)
		if features != nil {
			features(t, img, ref)
		}
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
			if diff := cmp.Diff(imageLayers(t, ref), imageLayers(t, r)); diff != "" {
				t.Errorf("variant %d (%s), budget %d, %s: layers differ from apko's (-apko +hic):\n%s", i, img.Ref, budget, run.what, diff)
			}
			if got := digest(t, r.Index); got != want {
				t.Errorf("variant %d (%s), budget %d, %s: index %s, apko's layering gives %s", i, img.Ref, budget, run.what, got, want)
			}
			if run.what == "first" && i == 0 && r.LayersReused != 0 {
				t.Errorf("budget %d, cold: %d layers reused, want 0", budget, r.LayersReused)
			}
			if run.what == "again" && r.LayersBuilt != 0 {
				t.Errorf("variant %d (%s), budget %d, warm: %d layers compressed, want 0", i, img.Ref, budget, r.LayersBuilt)
			}
			// The checks see the same files as from apko's tars.
			for p := range ref.FS {
				if diff := cmp.Diff(entries(t, ref.FS[p]), entries(t, r.FS[p])); diff != "" {
					t.Errorf("variant %d (%s), budget %d, %s, %s: filesystem the checks read (-apko +hic):\n%s", i, img.Ref, budget, run.what, p, diff)
				}
			}
		}
	}
}

// imageLayers returns the layer descriptors of r's images by platform.
func imageLayers(t *testing.T, r *Result) map[string][]v1.Descriptor {
	t.Helper()
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

// Package entries that would make the unpacked image differ from what the
// checks see, or loop the walk, are refused as apko installs them; a plain
// package of the same shape installs. (From an outside review: a signed
// package with opt/.wh..wh..opq hid a setuid file from the checks, and a
// directory entry usr/../evil/ made the build grow without end.)
func TestHostileEntriesRefused(t *testing.T) {
	p := &apk.Package{Name: "p", Version: "1-r0", Origin: "p"}
	data := fstest.MapFS{"usr/bin/x": {Data: []byte("abcd")}, "usr/bin/.wh.x": {Data: []byte("abcd")}}
	reg := func(name string) tar.Header {
		sum := sha1.Sum([]byte("abcd"))
		return tar.Header{Name: name, Typeflag: tar.TypeReg, Size: 4, Mode: 0o755,
			PAXRecords: map[string]string{"APK-TOOLS.checksum.SHA1": hex.EncodeToString(sum[:])}}
	}
	dir := func(name string) tar.Header { return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755} }
	link := func(name, target string) tar.Header {
		return tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o755}
	}
	install := func(m *modeFS, hdrs ...tar.Header) error {
		for _, h := range hdrs {
			if _, err := m.WriteHeader(h, data, p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := install(newModeFS(), dir("usr/"), dir("usr/bin/"), reg("usr/bin/x"), link("usr/bin/y", "usr/bin/x")); err != nil {
		t.Fatalf("a plain package: %v", err)
	}
	for name, hdrs := range map[string][]tar.Header{
		"whiteout file":       {dir("usr/"), dir("usr/bin/"), reg("usr/bin/.wh.x")},
		"opaque whiteout":     {dir("opt/"), reg("opt/.wh..wh..opq")},
		"whiteout directory":  {dir("usr/"), dir("usr/.wh.bin/")},
		"bare whiteout":       {dir("usr/"), reg("usr/.wh.")},
		"dot-dot directory":   {dir("usr/"), dir("usr/../evil/")},
		"dot element":         {dir("usr/"), dir("usr/./bin/")},
		"empty element":       {dir("usr/"), dir("usr//bin/")},
		"climbing file":       {reg("../../x")},
		"hard link to a dir":  {dir("etc/"), dir("usr/"), link("usr/h", "etc")},
		"hard link climbing":  {dir("usr/"), link("usr/h", "../../etc/shadow")},
		"hard link to a .wh.": {dir("usr/"), link("usr/.wh.h", "usr/x")},
	} {
		err := install(newModeFS(), hdrs...)
		if err == nil || !strings.Contains(err.Error(), "package p-1-r0") {
			t.Errorf("%s: installed (%v), want an error naming the package", name, err)
		}
	}
}

// A tree holding a directory named ".." (apko's tarfs makes one for
// MkdirAll("usr/../evil")) fails the walk instead of walking the root again.
func TestWalkTreeRefusesDotDot(t *testing.T) {
	m := newModeFS()
	if err := m.FullFS.MkdirAll("usr/../evil", 0o755); err != nil {
		t.Fatal(err)
	}
	entries := 0
	err := walkTree(context.Background(), m, func(*treeFile) error {
		if entries++; entries > 1000 {
			return errors.New("the walk does not end")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), `".."`) {
		t.Fatalf("walkTree = %v after %d entries, want an error naming the .. entry", err, entries)
	}
}

// A hard link that sorts before its target is written after it, so that a
// runtime can unpack the layer (containerd: "link /opt/b /opt/a: no such
// file or directory"); everything else keeps its order.
func TestLinksAfterTargets(t *testing.T) {
	e := func(name string, typ byte, link string) layerEntry {
		return layerEntry{hdr: tar.Header{Name: name, Typeflag: typ, Linkname: link}}
	}
	in := []layerEntry{
		e("opt", tar.TypeDir, ""), e("opt/a", tar.TypeLink, "/opt/b"), e("opt/a2", tar.TypeLink, "opt/b"),
		e("opt/b", tar.TypeReg, ""), e("opt/c", tar.TypeLink, "opt/b"), e("opt/d", tar.TypeLink, "usr/lower"),
	}
	var got []string
	for _, x := range linksAfterTargets(in) {
		got = append(got, x.hdr.Name)
	}
	want := []string{"opt", "opt/b", "opt/a", "opt/a2", "opt/c", "opt/d"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// A hard link to another package's file is refused: it would be laid out
// in that package's layer.
func TestHardLinkToOtherPackageRefused(t *testing.T) {
	m := newModeFS()
	p := &apk.Package{Name: "p", Version: "1-r0", Origin: "p"}
	q := &apk.Package{Name: "q", Version: "1-r0", Origin: "q"}
	sum := sha1.Sum([]byte("abcd"))
	data := fstest.MapFS{"usr/lib/libq": {Data: []byte("abcd")}}
	for _, h := range []tar.Header{
		{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "usr/lib/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "usr/lib/libq", Typeflag: tar.TypeReg, Size: 4, Mode: 0o644, PAXRecords: map[string]string{"APK-TOOLS.checksum.SHA1": hex.EncodeToString(sum[:])}},
	} {
		if _, err := m.WriteHeader(h, data, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.WriteHeader(tar.Header{Name: "usr/lib/own", Typeflag: tar.TypeLink, Linkname: "usr/lib/libq"}, data, q); err != nil {
		t.Errorf("a link to the package's own file: %v", err)
	}
	_, err := m.WriteHeader(tar.Header{Name: "usr/lib/h", Typeflag: tar.TypeLink, Linkname: "usr/lib/libq"}, data, p)
	if err == nil || !strings.Contains(err.Error(), "a file of package q") {
		t.Errorf("a link to q's file from p: %v, want it refused", err)
	}
}
