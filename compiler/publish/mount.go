package publish

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// mounts remembers, for one Publish, which destination repository already
// holds each layer, so that an image in another repository of the same
// registry asks the registry to mount the blob (POST ?mount=&from=) instead
// of uploading it again. Catalog images share their base layers, so this
// is most of the bytes.
//
// Images published at the same time coordinate through claims: before an
// image is pushed it claims every layer no other image holds or is
// uploading, and waits while another image in flight has claimed one of its
// layers, so each layer is uploaded once and then mounted. A waiting image
// holds no claims, so images never wait on each other in a cycle.
type mounts struct {
	mu      sync.Mutex
	where   map[v1.Hash]name.Repository
	pending map[v1.Hash]chan struct{}
}

func newMounts() *mounts {
	return &mounts{where: map[v1.Hash]name.Repository{}, pending: map[v1.Hash]chan struct{}{}}
}

func (m *mounts) lookup(h v1.Hash) (name.Repository, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.where[h]
	return r, ok
}

// claim waits until no other image in flight is uploading one of layers,
// then claims those that no repository holds yet. release must be called
// with the claims when the image is done, whether it succeeded or not.
func (m *mounts) claim(ctx context.Context, layers []v1.Hash) (*claims, error) {
	for {
		m.mu.Lock()
		var busy chan struct{}
		for _, h := range layers {
			if ch, ok := m.pending[h]; ok {
				busy = ch
				break
			}
		}
		if busy == nil {
			c := &claims{done: make(chan struct{})}
			for _, h := range layers {
				if _, ok := m.where[h]; ok {
					continue
				}
				if _, ok := m.pending[h]; !ok {
					m.pending[h] = c.done
					c.layers = append(c.layers, h)
				}
			}
			m.mu.Unlock()
			return c, nil
		}
		m.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// claims are the layers one image is uploading.
type claims struct {
	layers []v1.Hash
	done   chan struct{}
}

// release gives up c's claims; if repo is set, it now holds every layer of
// layers (the image's, claimed or not).
func (m *mounts) release(c *claims, repo *name.Repository, layers []v1.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if repo != nil {
		for _, h := range layers {
			if _, ok := m.where[h]; !ok {
				m.where[h] = *repo
			}
		}
	}
	for _, h := range c.layers {
		delete(m.pending, h)
	}
	close(c.done)
}

func indexLayers(idx v1.ImageIndex) ([]v1.Hash, error) {
	var out []v1.Hash
	err := walkIndex(idx, func(parent v1.ImageIndex, d v1.Descriptor) error {
		if !d.MediaType.IsImage() {
			return nil
		}
		img, err := parent.Image(d.Digest)
		if err != nil {
			return err
		}
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		for _, l := range m.Layers {
			out = append(out, l.Digest)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// walkIndex calls fn with every manifest descriptor below idx and the index
// that lists it, in order, depth first: a child index's descriptor, then
// what is below it.
func walkIndex(idx v1.ImageIndex, fn func(parent v1.ImageIndex, d v1.Descriptor) error) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		if err := fn(idx, d); err != nil {
			return err
		}
		if !d.MediaType.IsIndex() {
			continue
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return err
		}
		if err := walkIndex(child, fn); err != nil {
			return err
		}
	}
	return nil
}

// mountIndex is an index whose images offer their layers for mounting from
// the repository that already has them. It changes no digest: only how
// go-containerregistry uploads the layers.
type mountIndex struct {
	base   v1.ImageIndex
	to     name.Repository
	mounts *mounts
}

var _ v1.ImageIndex = (*mountIndex)(nil)

func (i *mountIndex) MediaType() (types.MediaType, error)       { return i.base.MediaType() }
func (i *mountIndex) Digest() (v1.Hash, error)                  { return i.base.Digest() }
func (i *mountIndex) Size() (int64, error)                      { return i.base.Size() }
func (i *mountIndex) IndexManifest() (*v1.IndexManifest, error) { return i.base.IndexManifest() }
func (i *mountIndex) RawManifest() ([]byte, error)              { return i.base.RawManifest() }

func (i *mountIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := i.base.Image(h)
	if err != nil {
		return nil, err
	}
	return &mountImage{Image: img, to: i.to, mounts: i.mounts}, nil
}

func (i *mountIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	idx, err := i.base.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return &mountIndex{base: idx, to: i.to, mounts: i.mounts}, nil
}

type mountImage struct {
	v1.Image
	to     name.Repository
	mounts *mounts
}

var _ v1.Image = (*mountImage)(nil)

func (i *mountImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for j, l := range ls {
		out[j] = i.wrap(l)
	}
	return out, nil
}

func (i *mountImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return i.wrap(l), nil
}

func (i *mountImage) wrap(l v1.Layer) v1.Layer {
	h, err := l.Digest()
	if err != nil {
		return l
	}
	from, ok := i.mounts.lookup(h)
	if !ok || from.String() == i.to.String() || from.Registry.String() != i.to.Registry.String() {
		return l
	}
	return &remote.MountableLayer{Layer: l, Reference: from.Digest(h.String())}
}
