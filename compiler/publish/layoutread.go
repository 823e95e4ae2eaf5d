package publish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/store"
)

// go-containerregistry's layout index looks every child up by parsing
// index.json again, so reading n entries of a layout costs n parses of a
// file that itself grows with n. The types below read manifests straight
// from the blobs by digest, after index.json has been parsed once.

// readLayoutBlob reads the blob with digest h from the layout at p and checks that
// its bytes have that digest and, if size is positive, that size.
func readLayoutBlob(p layout.Path, h v1.Hash, size int64) ([]byte, error) {
	if h.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm", h)
	}
	b, err := os.ReadFile(filepath.Join(string(p), "blobs", h.Algorithm, h.Hex))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	got, n, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	if got != h {
		return nil, fmt.Errorf("blob %s: content has digest %s (the layout is damaged; rebuild it with hic build)", h, got)
	}
	if size > 0 && n != size {
		return nil, fmt.Errorf("blob %s: %d bytes, the descriptor says %d (the layout is damaged; rebuild it with hic build)", h, n, size)
	}
	return b, nil
}

// blobIndex is an image index of a layout, read by digest.
type blobIndex struct {
	p    layout.Path
	desc v1.Descriptor
	raw  []byte
	im   *v1.IndexManifest
}

var _ v1.ImageIndex = (*blobIndex)(nil)

func openIndex(p layout.Path, desc v1.Descriptor) (*blobIndex, error) {
	raw, im, err := readParsed(p, desc, "index", v1.ParseIndexManifest)
	if err != nil {
		return nil, err
	}
	return &blobIndex{p: p, desc: desc, raw: raw, im: im}, nil
}

// readParsed reads the blob of desc from the layout at p (readLayoutBlob)
// and parses it with parse; what ("index", "manifest") names it when it
// does not parse.
func readParsed[M any](p layout.Path, desc v1.Descriptor, what string, parse func(io.Reader) (M, error)) ([]byte, M, error) {
	var zero M
	raw, err := readLayoutBlob(p, desc.Digest, desc.Size)
	if err != nil {
		return nil, zero, err
	}
	m, err := parse(bytes.NewReader(raw))
	if err != nil {
		return nil, zero, fmt.Errorf("%s %s: %w", what, desc.Digest, err)
	}
	return raw, m, nil
}

func (x *blobIndex) MediaType() (types.MediaType, error) { return x.desc.MediaType, nil }
func (x *blobIndex) Digest() (v1.Hash, error)            { return x.desc.Digest, nil }
func (x *blobIndex) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *blobIndex) RawManifest() ([]byte, error)        { return x.raw, nil }

// IndexManifest returns a copy: callers may change it.
func (x *blobIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

func (x *blobIndex) child(h v1.Hash) (v1.Descriptor, error) {
	for _, d := range x.im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("index %s has no manifest %s", x.desc.Digest, h)
}

func (x *blobIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	return openImage(x.p, d)
}

func (x *blobIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	return openIndex(x.p, d)
}

// blobImage is an image manifest of a layout, read by digest; its config
// and layers are read from the layout's blobs when asked for.
type blobImage struct {
	p    layout.Path
	desc v1.Descriptor
	raw  []byte
	m    *v1.Manifest
}

var _ partial.CompressedImageCore = (*blobImage)(nil)

func openImage(p layout.Path, desc v1.Descriptor) (v1.Image, error) {
	bi, err := openManifest(p, desc)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(bi)
}

func openManifest(p layout.Path, desc v1.Descriptor) (*blobImage, error) {
	raw, m, err := readParsed(p, desc, "manifest", v1.ParseManifest)
	if err != nil {
		return nil, err
	}
	return &blobImage{p: p, desc: desc, raw: raw, m: m}, nil
}

func (i *blobImage) MediaType() (types.MediaType, error) { return i.desc.MediaType, nil }
func (i *blobImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *blobImage) RawConfigFile() ([]byte, error) {
	return readLayoutBlob(i.p, i.m.Config.Digest, i.m.Config.Size)
}

func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &blobLayer{p: i.p, desc: i.m.Config}, nil
	}
	for _, d := range i.m.Layers {
		if d.Digest == h {
			return &blobLayer{p: i.p, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("manifest %s has no blob %s", i.desc.Digest, h)
}

// blobLayer is a blob of a layout, streamed from its file.
type blobLayer struct {
	p    layout.Path
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *blobLayer) Descriptor() (*v1.Descriptor, error) { d := l.desc; return &d, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.p.Blob(l.desc.Digest) }

// subjectOf reads the manifest of an index.json entry and returns its
// subject, if it has one.
func subjectOf(p layout.Path, desc v1.Descriptor) (*blobImage, *v1.Descriptor, error) {
	bi, err := openManifest(p, desc)
	if err != nil {
		return nil, nil, err
	}
	return bi, bi.m.Subject, nil
}

// parseIndexJSON reads a layout's index.json once. One that exists but
// cannot be read or parsed is the store's damaged index (store.DamagedIndex,
// which says how to recover).
func parseIndexJSON(p layout.Path) (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(string(p), "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, store.DamagedIndex(string(p), err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		return nil, store.DamagedIndex(string(p), err)
	}
	return &im, nil
}
