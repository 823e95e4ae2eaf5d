package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/store"
)

// A layout's index.json is read here, not through go-containerregistry's
// layout package, which names neither the file nor the entry in its parse
// errors and refuses the whole file for one entry that does not parse: an
// index.json that does not parse at all is named, with the way to recover
// (store.DamagedIndex); an entry that does not is skipped, and named where
// the image it is about is read (badEntry.about).

// badEntry is an index.json entry that does not parse as a descriptor.
type badEntry struct {
	n           int    // its position, from 1
	digest      string // as written
	annotations map[string]string
	err         error
}

// String names the entry: its position, digest and ref name or spec ref.
func (e badEntry) String() string {
	parts := []string{fmt.Sprintf("digest %q", e.digest)}
	if r := e.annotations[store.AnnotationRefName]; r != "" {
		parts = append(parts, "ref "+r)
	}
	if s := e.annotations[store.AnnotationSpecRef]; s != "" {
		parts = append(parts, "spec "+s)
	}
	if s := e.annotations[attest.AnnotationSubject]; s != "" {
		parts = append(parts, "subject "+s)
	}
	return fmt.Sprintf("entry %d (%s)", e.n, strings.Join(parts, ", "))
}

// about reports whether the entry may be one of the image t names or of its
// referrers: its ref name or spec ref is ref's, or the entry names the
// image's spec, its digest or one of subjects.
func (e badEntry) about(ref string, t *Target, subjects []v1.Hash) bool {
	a := e.annotations
	if ref != "" && (a[store.AnnotationRefName] == ref || a[store.AnnotationSpecRef] == ref || a["dev.hic.rejected.spec.ref"] == ref) {
		return true
	}
	if repo, digest, ok := strings.Cut(ref, "@"); ok && e.digest == digest && repo != "" {
		return true
	}
	if t == nil {
		return false
	}
	if t.entrySpec != "" && a[store.AnnotationSpecRef] == t.entrySpec {
		return true
	}
	for _, s := range subjects {
		if e.digest == s.String() || a[attest.AnnotationSubject] == s.String() {
			return true
		}
	}
	return false
}

// damaged is the error of the layout's index.json for entry e.
func (l Layout) damaged(e badEntry) error {
	return store.DamagedIndex(string(l.Path), fmt.Errorf("%s: %w", e, e.err))
}

// readIndex reads the layout's index.json: the entries that parse, and the
// ones that do not. An index.json that cannot be read or parsed at all is a
// store.DamagedIndex error, naming the file and the way to recover.
func (l Layout) readIndex() (*v1.IndexManifest, []badEntry, error) {
	b, err := os.ReadFile(filepath.Join(string(l.Path), "index.json"))
	if err != nil {
		return nil, nil, store.DamagedIndex(string(l.Path), err)
	}
	var raw struct {
		SchemaVersion int64             `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType,omitempty"`
		Manifests     []json.RawMessage `json:"manifests"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, store.DamagedIndex(string(l.Path), err)
	}
	im := &v1.IndexManifest{SchemaVersion: raw.SchemaVersion, MediaType: raw.MediaType, Annotations: raw.Annotations}
	var bad []badEntry
	for i, m := range raw.Manifests {
		var d v1.Descriptor
		err := json.Unmarshal(m, &d)
		if err == nil && d.Digest.Hex == "" {
			err = errors.New("no digest")
		}
		if err != nil {
			var loose struct {
				Digest      any               `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			}
			_ = json.Unmarshal(m, &loose)
			digest := fmt.Sprint(loose.Digest)
			if s, ok := loose.Digest.(string); ok {
				digest = s
			}
			bad = append(bad, badEntry{n: i + 1, digest: digest, annotations: loose.Annotations, err: err})
			continue
		}
		im.Manifests = append(im.Manifests, d)
	}
	return im, bad, nil
}

// readIndexBlob reads the image index blob d names and checks it against
// its digest and size before anything parses it: a blob that does not
// match is an error naming it, the digest it has and the way out.
func (l Layout) readIndexBlob(d v1.Descriptor, spec string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(string(l.Path), "blobs", d.Digest.Algorithm, d.Digest.Hex))
	way := l.rebuildHint(spec)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("image index %s is missing from the layout; %s", d.Digest, way)
	case err != nil:
		return nil, fmt.Errorf("image index %s: %w", d.Digest, err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); d.Digest.Algorithm != "sha256" || got != d.Digest.Hex {
		return nil, fmt.Errorf("image index %s does not match its digest: content has digest sha256:%s; %s", d.Digest, got, way)
	}
	if d.Size != 0 && int64(len(b)) != d.Size {
		return nil, fmt.Errorf("image index %s is %d bytes, its index.json entry says %d; %s", d.Digest, len(b), d.Size, way)
	}
	return b, nil
}

// rebuildHint is the way out of a blob of spec's image that is missing or
// does not match its digest: the build verifies a cached image's blobs and
// rebuilds one that does not match, replacing its blobs and referrers.
func (l Layout) rebuildHint(spec string) string {
	return fmt.Sprintf("the layout %s is damaged: hic build %s rebuilds the image, replacing every blob of it that does not match its digest", l.Path, spec)
}

// blobIndex is an image index of a layout read from its blob (verified by
// readIndexBlob), whose images are read from the layout's blobs: no
// index.json entry is parsed to read it.
type blobIndex struct {
	path layout.Path
	desc v1.Descriptor
	raw  []byte
}

var _ v1.ImageIndex = (*blobIndex)(nil)

func (x *blobIndex) MediaType() (types.MediaType, error) { return x.desc.MediaType, nil }
func (x *blobIndex) Digest() (v1.Hash, error)            { return x.desc.Digest, nil }
func (x *blobIndex) Size() (int64, error)                { return int64(len(x.raw)), nil }
func (x *blobIndex) RawManifest() ([]byte, error)        { return x.raw, nil }

func (x *blobIndex) IndexManifest() (*v1.IndexManifest, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(x.raw))
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", x.desc.Digest, err)
	}
	return im, nil
}

func (x *blobIndex) find(h v1.Hash) (v1.Descriptor, error) {
	im, err := x.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("image index %s lists no %s", x.desc.Digest, h)
}

func (x *blobIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := x.find(h)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&blobImage{path: x.path, desc: d})
}

func (x *blobIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := x.find(h)
	if err != nil {
		return nil, err
	}
	raw, err := x.path.Bytes(h)
	if err != nil {
		return nil, err
	}
	return &blobIndex{path: x.path, desc: d, raw: raw}, nil
}

// blobImage is an image manifest of a layout, read from its blobs.
type blobImage struct {
	path layout.Path
	desc v1.Descriptor
	raw  []byte
}

var _ partial.CompressedImageCore = (*blobImage)(nil)

func (i *blobImage) MediaType() (types.MediaType, error) { return i.desc.MediaType, nil }

func (i *blobImage) RawManifest() ([]byte, error) {
	if i.raw == nil {
		b, err := i.path.Bytes(i.desc.Digest)
		if err != nil {
			return nil, err
		}
		i.raw = b
	}
	return i.raw, nil
}

func (i *blobImage) manifest() (*v1.Manifest, error) {
	raw, err := i.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(raw))
}

func (i *blobImage) RawConfigFile() ([]byte, error) {
	m, err := i.manifest()
	if err != nil {
		return nil, err
	}
	return i.path.Bytes(m.Config.Digest)
}

func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := i.manifest()
	if err != nil {
		return nil, err
	}
	if h == m.Config.Digest {
		return &blobLayer{path: i.path, desc: m.Config}, nil
	}
	for _, l := range m.Layers {
		if l.Digest == h {
			return &blobLayer{path: i.path, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("manifest %s has no layer %s", i.desc.Digest, h)
}

// blobLayer is a layer (or config) blob of a layout.
type blobLayer struct {
	path layout.Path
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.path.Blob(l.desc.Digest) }
