package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Referrer is an OCI 1.1 referrer: an image manifest with a subject (an
// image index or image written by the same Put), built by the caller (see
// NewArtifact), with the blobs it references.
type Referrer struct {
	// Manifest is the raw OCI image manifest.
	Manifest []byte
	// Blobs are the contents of the manifest's config and layers (a blob
	// already in the store may be left out; an inline config is written too).
	Blobs [][]byte
	// Annotations are added to the manifest's index.json entry.
	Annotations map[string]string
}

// Artifact is a one-blob artifact, the common case of a Referrer.
type Artifact struct {
	// ArtifactType names what the artifact is ("application/spdx+json").
	ArtifactType string
	// Subject is the descriptor of the image or index the artifact describes.
	Subject v1.Descriptor
	// MediaType is the payload's media type; Data is the payload.
	MediaType types.MediaType
	Data      []byte
	// Annotations are the manifest's; LayerAnnotations its layer's.
	Annotations      map[string]string
	LayerAnnotations map[string]string
	// Title is the payload's file name, its layer's
	// org.opencontainers.image.title (what `oras pull` saves it as).
	Title string
	// IndexAnnotations go on the manifest's index.json entry (Referrer.Annotations).
	IndexAnnotations map[string]string
}

// emptyJSON is the content of the OCI 1.1 empty descriptor used as an
// artifact's config.
var emptyJSON = []byte("{}")

// NewArtifact builds the referrer for a: an OCI image manifest with
// artifactType, the empty config, one layer holding Data, and Subject. It is
// the one builder of referrer manifests: SBOMs, findings, attestations and
// signatures (attest.AttestationReferrer, attest.SignatureReferrer) all come
// from it and are stored by Put.
func NewArtifact(a Artifact) (Referrer, error) {
	payload, _, err := v1.SHA256(bytes.NewReader(a.Data))
	if err != nil {
		return Referrer{}, err
	}
	cfg, _, err := v1.SHA256(bytes.NewReader(emptyJSON))
	if err != nil {
		return Referrer{}, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  a.ArtifactType,
		Config:        v1.Descriptor{MediaType: types.MediaType("application/vnd.oci.empty.v1+json"), Digest: cfg, Size: int64(len(emptyJSON)), Data: emptyJSON},
		Layers:        []v1.Descriptor{{MediaType: a.MediaType, Digest: payload, Size: int64(len(a.Data)), Annotations: layerAnnotations(a)}},
		Annotations:   a.Annotations,
	}
	if a.Subject.Digest.Hex != "" {
		m.Subject = &v1.Descriptor{MediaType: a.Subject.MediaType, Digest: a.Subject.Digest, Size: a.Subject.Size}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return Referrer{}, err
	}
	return Referrer{Manifest: b, Blobs: [][]byte{a.Data}, Annotations: a.IndexAnnotations}, nil
}

// layerAnnotations are a's LayerAnnotations plus its Title.
func layerAnnotations(a Artifact) map[string]string {
	if a.Title == "" {
		return a.LayerAnnotations
	}
	out := map[string]string{"org.opencontainers.image.title": a.Title}
	for k, v := range a.LayerAnnotations {
		out[k] = v
	}
	return out
}

// writeReferrer writes r's blobs and manifest, checks that every blob the
// manifest references is stored, and returns the index.json descriptor.
func (s *Store) writeReferrer(r Referrer) (v1.Descriptor, error) {
	var m v1.Manifest
	if err := json.Unmarshal(r.Manifest, &m); err != nil {
		return v1.Descriptor{}, fmt.Errorf("referrer manifest: %w", err)
	}
	for _, b := range r.Blobs {
		if err := s.writeBytes(b); err != nil {
			return v1.Descriptor{}, err
		}
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if d.Data != nil && !s.goodBlob(d.Digest) {
			if err := s.writeBlob(d.Digest, io.NopCloser(bytes.NewReader(d.Data))); err != nil {
				return v1.Descriptor{}, err
			}
		}
		if !s.goodBlob(d.Digest) {
			return v1.Descriptor{}, fmt.Errorf("referrer manifest references blob %s, which is neither given nor stored intact", d.Digest)
		}
	}
	h, n, err := v1.SHA256(bytes.NewReader(r.Manifest))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := s.writeBlob(h, io.NopCloser(bytes.NewReader(r.Manifest))); err != nil {
		return v1.Descriptor{}, err
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	at := m.ArtifactType
	if at == "" {
		at = string(m.Config.MediaType)
	}
	return v1.Descriptor{MediaType: mt, ArtifactType: at, Digest: h, Size: n}, nil
}

func (s *Store) writeBytes(b []byte) error {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.writeBlob(h, io.NopCloser(bytes.NewReader(b)))
}

// writeIndex writes every blob under idx (children first) and returns idx's descriptor.
func (s *Store) writeIndex(ctx context.Context, idx v1.ImageIndex) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return v1.Descriptor{}, err
		}
		switch d.MediaType {
		case types.OCIImageIndex, types.DockerManifestList:
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if _, err := s.writeIndex(ctx, child); err != nil {
				return v1.Descriptor{}, err
			}
		case types.OCIManifestSchema1, types.DockerManifestSchema2:
			img, err := idx.Image(d.Digest)
			if err != nil {
				return v1.Descriptor{}, err
			}
			if err := s.writeImage(ctx, img); err != nil {
				return v1.Descriptor{}, err
			}
		default:
			return v1.Descriptor{}, fmt.Errorf("index %s: unsupported child media type %s", d.Digest, d.MediaType)
		}
	}
	d, raw, err := describe(idx)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := s.writeBlob(d.Digest, io.NopCloser(bytes.NewReader(raw))); err != nil {
		return v1.Descriptor{}, err
	}
	return d, nil
}

func (s *Store) writeImage(ctx context.Context, img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := l.Digest()
		if err != nil {
			return err
		}
		if s.goodBlob(h) {
			continue
		}
		if bf, ok := l.(blobFile); ok {
			if linked, err := s.linkBlob(h, bf); err != nil {
				return fmt.Errorf("layer %s: %w", h, err)
			} else if linked {
				continue
			}
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		if err := s.writeBlob(h, rc); err != nil {
			return fmt.Errorf("layer %s: %w", h, err)
		}
	}
	if err := s.writeRaw(img.ConfigName, img.RawConfigFile); err != nil {
		return err
	}
	return s.writeRaw(img.Digest, img.RawManifest)
}

// writeRaw writes the bytes raw returns as the blob whose digest digest
// returns (an image's config or manifest).
func (s *Store) writeRaw(digest func() (v1.Hash, error), raw func() ([]byte, error)) error {
	h, err := digest()
	if err != nil {
		return err
	}
	b, err := raw()
	if err != nil {
		return err
	}
	return s.writeBlob(h, io.NopCloser(bytes.NewReader(b)))
}

// Describable is an image or an image index, as DescriptorOf takes it.
type Describable interface {
	Digest() (v1.Hash, error)
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}

// DescriptorOf returns the descriptor of an image or index: its media type,
// digest and size, with no annotations or artifact type: an Artifact's
// Subject, and what Put's index.json entry of an index starts from.
func DescriptorOf(x Describable) (v1.Descriptor, error) {
	d, _, err := describe(x)
	return d, err
}

// describe is DescriptorOf and the raw manifest it describes.
func describe(x Describable) (v1.Descriptor, []byte, error) {
	h, err := x.Digest()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	raw, err := x.RawManifest()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	mt, err := x.MediaType()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	return v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(raw))}, raw, nil
}

func (s *Store) blobPath(h v1.Hash) string {
	return filepath.Join(s.dir, "blobs", h.Algorithm, h.Hex)
}

func (s *Store) hasBlob(h v1.Hash) bool {
	fi, err := os.Stat(s.blobPath(h))
	return err == nil && fi.Mode().IsRegular()
}

// writeBlob copies rc to a temp file, checks its sha256 against h, fsyncs and
// renames it into place. A blob already stored is kept if its content hashes
// to h (checked once per process) and replaced otherwise: only verified
// blobs are ever renamed into blobs/.
func (s *Store) writeBlob(h v1.Hash, rc io.ReadCloser) (err error) {
	defer rc.Close()
	if h.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: unsupported digest algorithm", h)
	}
	if s.goodBlob(h) {
		return nil
	}
	s.memo.forget(h)
	f, err := s.tempFile()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	sum := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, sum), rc); err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.Hex {
		return fmt.Errorf("blob %s: content has digest sha256:%s", h, got)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), s.blobPath(h)); err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	if id, ok := s.blobID(h); ok {
		s.memo.markGood(h, id)
	}
	return nil
}

// blobFile is a layer whose compressed bytes are a read-only file never
// written in place (a layer cache's blob): the store hard-links it into
// the layout rather than copying it.
type blobFile interface{ BlobFile() string }

// hashedLinker is a blobFile that links its file itself when the file is
// unchanged since the layer's owner hashed it and found it to be blob h
// (layercache's layers), so the link needs no second hash.
type hashedLinker interface {
	LinkHashed(h v1.Hash, dst string) (bool, error)
}

// linkBlob stores the file of bf as blob h by a hard link, checked as
// writeBlob checks a copy before it is renamed into place: hashed against
// h, unless bf links a file it hashed itself and found unchanged since
// (hashedLinker). It reports false, storing nothing, when the file cannot
// be linked (another filesystem, a file that is not read-only for all,
// links not permitted), for the caller to copy it instead.
func (s *Store) linkBlob(h v1.Hash, bf blobFile) (linked bool, err error) {
	if h.Algorithm != "sha256" {
		return false, fmt.Errorf("blob %s: unsupported digest algorithm", h)
	}
	src := bf.BlobFile()
	if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o444 {
		return false, nil
	}
	s.memo.forget(h)
	tmp := s.tempName()
	hashed := false
	if hl, ok := bf.(hashedLinker); ok {
		if hashed, err = hl.LinkHashed(h, tmp); err != nil {
			return false, fmt.Errorf("blob %s: %w", h, err)
		}
	}
	if !hashed {
		if err := os.Link(src, tmp); err != nil {
			return false, nil
		}
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	f, err := os.Open(tmp)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if !hashed {
		if s.onBlobHash != nil {
			s.onBlobHash(h)
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, f); err != nil {
			return false, fmt.Errorf("blob %s: %w", h, err)
		}
		if got := hex.EncodeToString(sum.Sum(nil)); got != h.Hex {
			return false, fmt.Errorf("blob %s: content has digest sha256:%s", h, got)
		}
	}
	if err := f.Sync(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, s.blobPath(h)); err != nil {
		return false, err
	}
	// A rename onto another link of the same file (a concurrent link of
	// the same blob) does nothing and leaves tmp.
	os.Remove(tmp)
	if id, ok := s.blobID(h); ok {
		s.memo.markGood(h, id)
	}
	return true, nil
}

// tempName is a new name in the layout's temporary directory.
func (s *Store) tempName() string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return filepath.Join(s.dir, tmpDirName, fmt.Sprintf("%d-%d", os.Getpid(), n))
}

func (s *Store) tempFile() (*os.File, error) {
	return os.OpenFile(s.tempName(), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
}
