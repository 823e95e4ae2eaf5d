package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing/fstest"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/resolve"
)

// IndexSBOM is the key of the image index's SBOM in Result.SBOMs.
const IndexSBOM = "index"

// Result is one built spec. It holds everything in memory: the build's
// temporary files are gone when Build returns.
type Result struct {
	// Ref is the spec ref.
	Ref string
	// Index is the multi-platform OCI image index.
	Index v1.ImageIndex
	// Images are the index's images by platform ("linux/amd64", "linux/arm64").
	Images map[string]v1.Image
	// SBOMs are apko's SPDX 2.3 JSON documents by platform, plus the index's
	// under the key IndexSBOM. Each platform's document lists every installed
	// package (hic adds those apko leaves out: apko lists only packages that
	// ship their own SBOM), with a pkg:apk purl.
	SBOMs map[string][]byte
	// Installed are the packages installed per platform, sorted by name;
	// each was checked against the lock.
	Installed map[string][]resolve.Package
	// Files are, per platform and by package name, the .apk files the
	// installed packages were installed from.
	Files map[string]map[string]PackageFile
	// BuildDate is the images' creation time: the newest build time of the
	// locked packages (resolve.Lock.BuildDate), never the clock.
	BuildDate time.Time
	// FS are the root filesystems by platform, as the post-build checks
	// read them (metadata of every entry, content of the files the checks
	// read), flattened from the layers' tar streams as apko wrote them.
	FS map[string]inspect.FS
	// LayersBuilt counts the layers this build compressed, LayersReused
	// those it found in the layer cache.
	LayersBuilt, LayersReused int
}

// PackageFile is the .apk file one installed package came from.
type PackageFile struct {
	// Digest is the SHA-256 of the whole .apk file ("sha256:<hex>"), hashed
	// as hic verified the file: a mirror's file as it was read, a fetched
	// one as it arrived, or, for one apko took from its package cache
	// without fetching it, the cache entry's segments (which are the file's
	// bytes). Empty when none of these held the file whole.
	Digest string
	// URL is the URL the file was fetched from, the catalog repository's
	// <repository>/<arch>/<name>-<version>.apk (the arch directory is the
	// build's for a noarch package); empty for a mirror's file.
	URL string
	// Mirror says the file was read from the local mirror directory of its
	// repository (Options.Mirrors), not fetched from the repository.
	Mirror bool
}

// Platforms returns the platforms of the result, sorted.
func (r *Result) Platforms() []string {
	ps := make([]string, 0, len(r.Images))
	for p := range r.Images {
		ps = append(ps, p)
	}
	return sortStrings(ps)
}

// Filesystem returns the root filesystem of platform's image: its layers
// flattened (later layers win, whiteouts applied) into an in-memory fs.FS.
// Each call decompresses the layers again.
//
// Names are relative and unrooted ("etc/passwd"). Every entry's
// Stat().Sys() is its *tar.Header (uid, gid, uname, link target, PAX
// records); Mode() carries the type bits, permissions and the setuid, setgid
// and sticky bits. Symbolic links resolve as in a chroot: the FS implements
// fs.ReadLinkFS, ReadLink returns the target made relative to the link's
// directory ("/bin/busybox" from "bin/sh" reads "../bin/busybox"), and the original
// target is the header's Linkname. Hard links are regular files with the
// target's content; their header has Typeflag tar.TypeLink.
func (r *Result) Filesystem(platform string) (fs.FS, error) {
	img, ok := r.Images[platform]
	if !ok {
		return nil, fmt.Errorf("%s: no image for platform %s (have %s)", r.Ref, platform, strings.Join(r.Platforms(), ", "))
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	m, err := tarToFS(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s filesystem: %w", r.Ref, platform, err)
	}
	return m, nil
}

func tarToFS(r io.Reader) (fstest.MapFS, error) {
	m := fstest.MapFS{}
	tr := tar.NewReader(r)
	var links []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		f := &fstest.MapFile{Mode: h.FileInfo().Mode(), ModTime: h.ModTime, Sys: h}
		switch h.Typeflag {
		case tar.TypeReg:
			if f.Data, err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		case tar.TypeSymlink:
			f.Data = []byte(rootRelative(name, h.Linkname))
		case tar.TypeLink:
			links = append(links, h)
		}
		m[name] = f
	}
	for _, h := range links {
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		target := m[strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")]
		if target == nil {
			return nil, fmt.Errorf("hard link %s: no target %s", h.Name, h.Linkname)
		}
		m[name].Data = target.Data
		m[name].Mode = target.Mode
	}
	return m, nil
}

// rootRelative rewrites an absolute link target into one relative to the
// link's directory, so that the link resolves inside the root filesystem.
func rootRelative(name, target string) string {
	if !path.IsAbs(target) {
		return target
	}
	up := strings.Count(path.Dir(name), "/")
	if path.Dir(name) != "." {
		up++
	}
	rel := strings.TrimPrefix(path.Clean(target), "/")
	if rel == "" {
		rel = "."
	}
	return path.Clean(strings.Repeat("../", up) + rel)
}

// memLayer is a layer held in memory with precomputed digests.
type memLayer struct {
	compressed []byte
	digest     v1.Hash
	diffID     v1.Hash
	mediaType  types.MediaType
}

var _ v1.Layer = (*memLayer)(nil)

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)     { return int64(len(l.compressed)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) {
	return l.mediaType, nil
}
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.compressed)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.compressed))
}

// memImage is an image held in memory, byte-identical to the one it copies.
type memImage struct {
	manifest, config []byte
	mediaType        types.MediaType
	layers           map[v1.Hash]*memLayer
}

var _ partial.CompressedImageCore = (*memImage)(nil)

func (i *memImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *memImage) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *memImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *memImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("no layer %s", h)
}

// inMemory copies img (whose layers apko keeps in temporary files) into
// memory.
func inMemory(img v1.Image) (v1.Image, error) {
	mi := &memImage{layers: map[v1.Hash]*memLayer{}}
	var err error
	if mi.manifest, err = img.RawManifest(); err != nil {
		return nil, err
	}
	if mi.config, err = img.RawConfigFile(); err != nil {
		return nil, err
	}
	if mi.mediaType, err = img.MediaType(); err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		ml := &memLayer{}
		if ml.digest, err = l.Digest(); err != nil {
			return nil, err
		}
		if ml.diffID, err = l.DiffID(); err != nil {
			return nil, err
		}
		if ml.mediaType, err = l.MediaType(); err != nil {
			return nil, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		ml.compressed, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		mi.layers[ml.digest] = ml
	}
	return partial.CompressedToImage(mi)
}

// memIndex is an image index held in memory, byte-identical to the one it
// copies, whose images are memImages.
type memIndex struct {
	manifest  []byte
	mediaType types.MediaType
	images    map[v1.Hash]v1.Image
}

var _ v1.ImageIndex = (*memIndex)(nil)

func (x *memIndex) MediaType() (types.MediaType, error) { return x.mediaType, nil }
func (x *memIndex) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(x.manifest))
	return h, err
}
func (x *memIndex) Size() (int64, error)         { return int64(len(x.manifest)), nil }
func (x *memIndex) RawManifest() ([]byte, error) { return x.manifest, nil }
func (x *memIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.manifest))
}
func (x *memIndex) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := x.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("index has no image %s", h)
}
func (x *memIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("index has no child index %s", h)
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
