package inspect

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type tentry struct {
	name string
	typ  byte
	mode int64
	data string
	link string
}

func tarOf(t *testing.T, es ...tentry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.data)), Linkname: e.link}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FromLayerTars flattens layers as go-containerregistry's mutate.Extract
// does: upper entries win, whiteouts and opaque directories remove what is
// below, a file replaces a directory.
func TestFromLayerTarsMatchesExtract(t *testing.T) {
	layers := [][]byte{
		tarOf(t,
			tentry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
			tentry{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, data: "root:x:0:0::/root:/bin/sh\n"},
			tentry{name: "etc/gone", typ: tar.TypeReg, mode: 0o644, data: "x"},
			tentry{name: "opt/", typ: tar.TypeDir, mode: 0o755},
			tentry{name: "opt/a", typ: tar.TypeReg, mode: 0o4755, data: "a"},
			tentry{name: "opt/sub/", typ: tar.TypeDir, mode: 0o777},
			tentry{name: "opt/sub/b", typ: tar.TypeReg, mode: 0o644, data: "b"},
			tentry{name: "var/", typ: tar.TypeDir, mode: 0o755},
			tentry{name: "var/d/", typ: tar.TypeDir, mode: 0o755},
			tentry{name: "var/d/f", typ: tar.TypeReg, mode: 0o644, data: "f"},
			tentry{name: "bin/", typ: tar.TypeDir, mode: 0o755},
			tentry{name: "bin/sh", typ: tar.TypeSymlink, mode: 0o777, link: "/bin/busybox"},
		),
		tarOf(t,
			tentry{name: "etc/.wh.gone", typ: tar.TypeReg},
			tentry{name: "etc/passwd", typ: tar.TypeReg, mode: 0o600, data: "root:x:0:0::/root:/sbin/nologin\n"},
			tentry{name: "opt/.wh..wh..opq", typ: tar.TypeReg},
			tentry{name: "opt/new", typ: tar.TypeReg, mode: 0o755, data: "n"},
			tentry{name: "var/d", typ: tar.TypeReg, mode: 0o644, data: "now a file"},
			tentry{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755, data: "bb"},
		),
	}
	img := empty.Image
	for _, l := range layers {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(l)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	want, err := FromLayers(img)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromLayerTars(bytes.NewReader(layers[0]), bytes.NewReader(layers[1]))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(listing(t, want), listing(t, got)); diff != "" {
		t.Errorf("(-extract +layer tars):\n%s", diff)
	}
	if b, err := got.ReadFile("etc/passwd"); err != nil || string(b) != "root:x:0:0::/root:/sbin/nologin\n" {
		t.Errorf("etc/passwd = %q, %v", b, err)
	}
	if _, err := got.ReadFile("bin/busybox"); err == nil {
		t.Errorf("bin/busybox: content kept, though no check reads it")
	}
}

func listing(t *testing.T, fsys FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := fs.Lstat(fsys, name)
		if err != nil {
			return err
		}
		out[name] = fi.Mode().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
