package smoke

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"chainguard.dev/apko/pkg/apk/expandapk"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// apkDataLayers are layers made of the data segments of apko's real test
// packages (what an image layer of hic holds is a package's files), in
// name order.
func apkDataLayers(t *testing.T) []v1.Layer {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	apks, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(gomod)), "chainguard.dev/apko@v0.30.34/pkg/apk/apk/testdata/*.apk"))
	if err != nil || len(apks) == 0 {
		t.Fatalf("apko's test packages: %v (%d found)", err, len(apks))
	}
	slices.Sort(apks)
	var layers []v1.Layer
	for _, a := range apks {
		f, err := os.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := expandapk.Split(bufio.NewReader(f))
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		data, err := io.ReadAll(parts[len(parts)-1])
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	return layers
}

// tarLayer is a layer of the given entries; a regular file's content is
// its Linkname field.
func tarLayer(t *testing.T, hs ...tar.Header) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hs {
		var body []byte
		if h.Typeflag == tar.TypeReg {
			body, h.Linkname = []byte(h.Linkname), ""
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// snapshot describes every path under dir: type, permission bits, owner,
// and content hash or link target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%s %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:8])
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newTrees(t *testing.T, budget int64) *LayerTrees {
	t.Helper()
	trees := NewLayerTrees(t.TempDir(), os.Geteuid() == 0, budget)
	t.Cleanup(func() {
		if err := trees.Close(); err != nil {
			t.Error(err)
		}
	})
	return trees
}

// TestTreesRootfsEqualsExtract: the root filesystem made from layer trees
// is what Extract writes, on real packages' files with a layer above them
// that replaces, removes, hides and links.
func TestTreesRootfsEqualsExtract(t *testing.T) {
	real := apkDataLayers(t)
	top := tarLayer(t,
		tar.Header{Name: "usr/bin/hello", Typeflag: tar.TypeReg, Mode: 0o4755, Linkname: "replaced"},
		tar.Header{Name: "usr/share/.wh..wh..opq", Typeflag: tar.TypeReg},
		tar.Header{Name: "usr/share/kept", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "kept"},
		tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o555},
		tar.Header{Name: "etc/owned", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 65532, Gid: 65532, Linkname: "mine"},
		tar.Header{Name: "etc/owned-too", Typeflag: tar.TypeLink, Linkname: "etc/owned", Uid: 65532, Gid: 65532},
		tar.Header{Name: "home/nonroot/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 65532, Gid: 65532},
		tar.Header{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"},
		tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: "../../../etc"},
		tar.Header{Name: "../../escape", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"},
		tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666},
	)
	layers := append(slices.Clone(real), top)
	// A file the real packages hold, beside another, whited out by a layer
	// above them. (mutate.Extract does not write the directories of a
	// removed file that has nothing else beside it when no layer names them.)
	first := snapshot(t, extractTo(t, imageOf(t, real...)))
	files := map[string]int{}
	for p, d := range first {
		if strings.HasPrefix(d, "-") {
			files[filepath.Dir(p)]++
		}
	}
	var victim string
	for p, d := range first {
		if strings.HasPrefix(d, "-") && !strings.HasPrefix(p, "usr/share/") && p != "usr/bin/hello" && (files[filepath.Dir(p)] > 1 || filepath.Dir(p) == ".") {
			victim = p
			break
		}
	}
	if victim == "" {
		t.Fatalf("apko's test packages hold no file to white out: %v", first)
	}
	if _, ok := first["usr/share"]; !ok {
		t.Fatalf("apko's test packages hold nothing under usr/share to hide: %v", first)
	}
	layers = append(layers, tarLayer(t,
		tar.Header{Name: filepath.Join(filepath.Dir(victim), ".wh."+filepath.Base(victim)), Typeflag: tar.TypeReg},
		tar.Header{Name: ".wh.var", Typeflag: tar.TypeReg}, // a whole directory of the packages'
	))
	img := imageOf(t, layers...)

	want := snapshot(t, extractTo(t, img))
	trees := newTrees(t, 0)
	dir, remove, err := trees.Rootfs(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	remove()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the root filesystem %s is still there after its remove: %v", dir, err)
	}
	for _, p := range []string{victim, "var", "escape", "out"} {
		if _, ok := want[p]; ok {
			t.Errorf("Extract wrote %s, which the layers remove or which climbs out", p)
		}
	}
	if want["usr/bin/hello"] == "" || want["usr/share/kept"] == "" || len(want) < 10 {
		t.Fatalf("Extract wrote too little to compare: %v", want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: trees %q, Extract %q", p, got[p], w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: trees wrote %q, Extract nothing", p, g)
		}
	}
}

func extractTo(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	if err := Extract(context.Background(), img, dir, os.Geteuid() == 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { makeRemovable(dir) })
	return dir
}

// TestTreesShareLayers: two images with a layer in common get the same
// files (hard links) and the layer is extracted once; a hard link to a
// lower layer's file, which Extract cannot write, is made.
func TestTreesShareLayers(t *testing.T) {
	real := apkDataLayers(t)
	base := real[len(real)-1]
	a := imageOf(t, base, tarLayer(t, tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "a"}))
	b := imageOf(t, base, tarLayer(t, tar.Header{Name: "hello-again", Typeflag: tar.TypeLink, Linkname: "usr/bin/hello"}))
	trees := newTrees(t, 0)
	ctx := context.Background()
	da, removeA, err := trees.Rootfs(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer removeA()
	db, removeB, err := trees.Rootfs(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer removeB()
	if trees.extracted != 3 {
		t.Errorf("%d layer extractions for 3 distinct layers", trees.extracted)
	}
	fa, err := os.Stat(filepath.Join(da, "usr/bin/hello"))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(filepath.Join(db, "usr/bin/hello"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(fa, fb) {
		t.Error("the shared layer's file is not one file in both root filesystems")
	}
	if again, err := os.Stat(filepath.Join(db, "hello-again")); err != nil || !os.SameFile(again, fb) {
		t.Errorf("hard link to a lower layer's file: %v", err)
	}
}

// TestTreesEvictUnused: with a budget of one byte, a tree goes when the
// last root filesystem that holds it is removed, and not before.
func TestTreesEvictUnused(t *testing.T) {
	real := apkDataLayers(t)
	trees := newTrees(t, 1)
	ctx := context.Background()
	img := imageOf(t, real[0])
	_, remove1, err := trees.Rootfs(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	_, remove2, err := trees.Rootfs(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	treeDirs := func() []string {
		m, _ := filepath.Glob(filepath.Join(trees.dir, "layer-*"))
		return m
	}
	if trees.extracted != 1 || len(treeDirs()) != 1 {
		t.Fatalf("%d extractions, tree directories %v; want 1 of each", trees.extracted, treeDirs())
	}
	remove1()
	if len(treeDirs()) != 1 {
		t.Fatal("a tree in use was evicted")
	}
	remove2()
	if d := treeDirs(); len(d) != 0 {
		t.Errorf("unused trees over the budget kept: %v", d)
	}
}

// alteredLayer says its tar hashes to another diff ID.
type alteredLayer struct{ v1.Layer }

func (alteredLayer) DiffID() (v1.Hash, error) {
	return v1.NewHash("sha256:" + strings.Repeat("ab", 32))
}

// TestTreesRefuseAlteredLayer: a layer whose tar is not its diff ID gives
// no root filesystem, and its tree is not kept for the next image.
func TestTreesRefuseAlteredLayer(t *testing.T) {
	real := apkDataLayers(t)
	trees := newTrees(t, 0)
	img := imageOf(t, alteredLayer{real[0]})
	for range 2 {
		if _, _, err := trees.Rootfs(context.Background(), img); err == nil || !strings.Contains(err.Error(), "altered") {
			t.Fatalf("altered layer: %v", err)
		}
	}
	if trees.extracted != 2 {
		t.Errorf("%d extractions, want 2: a failed tree is kept", trees.extracted)
	}
	if m, _ := filepath.Glob(filepath.Join(trees.dir, "*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

// TestTreesStayInside: a symbolic link to a directory outside the root
// filesystem cannot carry a file there.
func TestTreesStayInside(t *testing.T) {
	outside := t.TempDir()
	img := imageOf(t, tarLayer(t,
		tar.Header{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: outside},
		tar.Header{Name: "abs/planted", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "x"},
	))
	trees := newTrees(t, 0)
	if _, _, err := trees.Rootfs(context.Background(), img); err == nil {
		t.Error("a file through a link out of the root filesystem was written")
	}
	if _, err := os.Lstat(filepath.Join(outside, "planted")); !os.IsNotExist(err) {
		t.Errorf("a file landed outside the root filesystem: %v", err)
	}
}

// TestTreesMadeOnlyWhenUsed: a LayerTrees no root filesystem was asked of
// leaves nothing in its parent, and Close removes what one made.
func TestTreesMadeOnlyWhenUsed(t *testing.T) {
	parent := t.TempDir()
	unused := NewLayerTrees(parent, false, 0)
	if err := unused.Close(); err != nil {
		t.Fatal(err)
	}
	used := NewLayerTrees(parent, os.Geteuid() == 0, 0)
	if _, remove, err := used.Rootfs(context.Background(), imageOf(t, apkDataLayers(t)[0])); err != nil {
		t.Fatal(err)
	} else {
		remove()
	}
	if m, _ := filepath.Glob(filepath.Join(parent, "*")); len(m) != 1 {
		t.Errorf("in the parent while one is in use: %v, want its one directory", m)
	}
	if err := used.Close(); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(parent, "*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
}

// TestTreesDirModesStayInTheirImage: a directory's mode and owner are set
// on that image's directory, never through a link on a tree's file another
// image shares.
func TestTreesDirModesStayInTheirImage(t *testing.T) {
	shared := tarLayer(t, tar.Header{Name: "usr/lib/foo", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "shared"})
	other := tarLayer(t,
		tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "usr/lib/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "usr/lib"},
		tar.Header{Name: "lib/foo/", Typeflag: tar.TypeDir, Mode: 0o777, Uid: 1234, Gid: 1234},
	)
	trees := newTrees(t, 0)
	ctx := context.Background()
	first, removeFirst, err := trees.Rootfs(ctx, imageOf(t, shared))
	if err != nil {
		t.Fatal(err)
	}
	defer removeFirst()
	if _, remove, err := trees.Rootfs(ctx, imageOf(t, other, shared)); err != nil {
		t.Fatal(err)
	} else {
		remove()
	}
	fi, err := os.Stat(filepath.Join(first, "usr/lib/foo"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o644 || st.Uid != 0 && os.Geteuid() == 0 {
		t.Errorf("the shared file became %s %d:%d through another image's directory entry", fi.Mode(), st.Uid, st.Gid)
	}
}
