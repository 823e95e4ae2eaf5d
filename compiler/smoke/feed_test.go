package smoke

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// feed writes l's tar to a new Feed of trees in writes of chunk bytes and
// returns the feed, not yet ended.
func feed(t *testing.T, trees *LayerTrees, l v1.Layer, chunk int) *Feed {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	f := trees.NewFeed()
	for len(b) > 0 {
		n := min(chunk, len(b))
		if w, err := f.Write(b[:n]); w != n || err != nil {
			t.Fatalf("feed write: %d of %d bytes, %v", w, n, err)
		}
		b = b[n:]
	}
	return f
}

func diffID(t *testing.T, l v1.Layer) v1.Hash {
	t.Helper()
	h, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// leftovers are the feeds' directories still under the trees' directory.
func leftovers(t *testing.T, trees *LayerTrees) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(trees.dir, "feed-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFeedTreesEqualExtract: the root filesystem made from fed trees (real
// packages' files, written in odd-sized pieces as a build writes a tar) is
// the one Extract writes, and no layer is extracted.
func TestFeedTreesEqualExtract(t *testing.T) {
	real := apkDataLayers(t)
	top := tarLayer(t,
		tar.Header{Name: "usr/bin/hello", Typeflag: tar.TypeReg, Mode: 0o4755, Linkname: "replaced"},
		tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o555},
		tar.Header{Name: "etc/owned", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 65532, Gid: 65532, Linkname: "mine"},
		tar.Header{Name: "etc/owned-too", Typeflag: tar.TypeLink, Linkname: "etc/owned", Uid: 65532, Gid: 65532},
		tar.Header{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"},
		tar.Header{Name: "usr/share/.wh..wh..opq", Typeflag: tar.TypeReg},
	)
	layers := append(slices.Clone(real), top)
	img := imageOf(t, layers...)
	want := snapshot(t, extractTo(t, img))

	trees := newTrees(t, 0)
	for i, l := range layers {
		feed(t, trees, l, 1000+7*i).Commit(diffID(t, l))
	}
	if trees.fed != len(layers) {
		t.Fatalf("%d trees fed of %d layers", trees.fed, len(layers))
	}
	dir, remove, err := trees.Rootfs(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	if trees.extracted != 0 {
		t.Errorf("%d layers extracted, want 0: every layer was fed", trees.extracted)
	}
	got := snapshot(t, dir)
	if len(want) < 10 {
		t.Fatalf("Extract wrote too little to compare: %v", want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: fed trees %q, Extract %q", p, got[p], w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: fed trees wrote %q, Extract nothing", p, g)
		}
	}
	if l := leftovers(t, trees); len(l) != 0 {
		t.Errorf("feed directories left: %v", l)
	}
}

// TestFeedRegistersOnlyWholeTrees: a feed aborted halfway, one of bytes
// that are no tar, a second feed of a layer already fed and a feed
// committed after Close register nothing and leave nothing behind; the
// layer is then extracted as without a feed.
func TestFeedRegistersOnlyWholeTrees(t *testing.T) {
	real := apkDataLayers(t)
	l := real[len(real)-1]
	ctx := context.Background()

	t.Run("aborted", func(t *testing.T) {
		trees := newTrees(t, 0)
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		f := trees.NewFeed()
		f.Write(b[:len(b)/2])
		f.Abort()
		f.Commit(diffID(t, l)) // after Abort: nothing
		if trees.fed != 0 || len(leftovers(t, trees)) != 0 {
			t.Fatalf("aborted feed: %d trees, leftovers %v", trees.fed, leftovers(t, trees))
		}
		_, remove, err := trees.Rootfs(ctx, imageOf(t, l))
		if err != nil {
			t.Fatal(err)
		}
		remove()
		if trees.extracted != 1 {
			t.Errorf("%d extractions after an aborted feed, want 1", trees.extracted)
		}
	})
	t.Run("not a tar", func(t *testing.T) {
		trees := newTrees(t, 0)
		f := trees.NewFeed()
		junk := bytes.Repeat([]byte("not a tar header "), 1<<16)
		if n, err := f.Write(junk); n != len(junk) || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
		if n, err := f.Write(junk); n != len(junk) || err != nil { // after the tree failed
			t.Fatalf("write after a failure: %d, %v", n, err)
		}
		f.Commit(diffID(t, l))
		if trees.fed != 0 || len(leftovers(t, trees)) != 0 {
			t.Fatalf("junk feed: %d trees, leftovers %v", trees.fed, leftovers(t, trees))
		}
	})
	t.Run("fed twice", func(t *testing.T) {
		trees := newTrees(t, 0)
		feed(t, trees, l, 4096).Commit(diffID(t, l))
		feed(t, trees, l, 512).Commit(diffID(t, l))
		if trees.fed != 1 || len(leftovers(t, trees)) != 0 {
			t.Fatalf("the same layer fed twice: %d trees, leftovers %v", trees.fed, leftovers(t, trees))
		}
	})
	t.Run("closed", func(t *testing.T) {
		trees := newTrees(t, 0)
		f := feed(t, trees, l, 4096)
		parent := trees.dir
		if err := trees.Close(); err != nil {
			t.Fatal(err)
		}
		f.Commit(diffID(t, l))
		if trees.fed != 0 {
			t.Errorf("a feed committed after Close registered its tree")
		}
		if m, _ := filepath.Glob(filepath.Join(parent, "*")); len(m) != 0 {
			t.Errorf("left after Close: %v", m)
		}
	})
}
