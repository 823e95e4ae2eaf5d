package verify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// CheckBlobs is the check that every blob of the image and its referrers
// hashes to its descriptor.
const CheckBlobs = "blobs"

// BlobSource is what the blobs check reads: raw blobs by digest and the
// referrer manifests stored for an image. Layout and *Registry implement it.
type BlobSource interface {
	// Blob opens the stored bytes of the blob (manifest, config or layer)
	// d names, exactly as stored: the caller hashes them.
	Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
	// ReferrerDescriptors lists the descriptors of every manifest stored
	// as a referrer of one of subjects (attestations, signatures, SBOMs,
	// findings), as the source lists them, each with where it was listed.
	ReferrerDescriptors(ctx context.Context, t *Target, subjects []v1.Hash) ([]ListedDescriptor, error)
}

// ListedDescriptor is a descriptor and where it was listed ("index.json",
// "referrers of sha256:…", "tag sha256-….att").
type ListedDescriptor struct {
	Where string
	v1.Descriptor
}

// blobWalk hashes blobs against their descriptors, each once.
type blobWalk struct {
	ctx  context.Context
	src  BlobSource
	seen map[v1.Hash]bool
	n    int
	bad  []string
}

// blobs: every blob of the image and its referrers matches its descriptor.
func (v *verification) blobs(ctx context.Context) Check {
	return checkBlobs(ctx, v.src, v.t, v.subjects)
}

// checkBlobs reads every blob of t's index (the index, platform manifests,
// configs, layers) and of every referrer stored for subjects (manifests,
// configs, layers), hashing each against its descriptor's digest and size.
func checkBlobs(ctx context.Context, src Source, t *Target, subjects []v1.Hash) Check {
	bs, ok := src.(BlobSource)
	if !ok {
		return Check{Name: CheckBlobs, OK: false, Detail: "this source cannot read raw blobs"}
	}
	w := &blobWalk{ctx: ctx, src: bs, seen: map[v1.Hash]bool{}}
	w.walk(t.Descriptor, "", "the image index "+t.Ref)
	// The referrers that cannot be listed (a registry's error, a layout's
	// index.json entry that does not parse) are no blob: said apart.
	refs, listErr := bs.ReferrerDescriptors(ctx, t, subjects)
	for _, r := range refs {
		w.walk(r.Descriptor, "", "referrer listed in "+r.Where)
	}
	var problems []string
	if len(w.bad) > 0 {
		p := fmt.Sprintf("%d of %d blobs do not match their descriptors: %s", len(w.bad), w.n, strings.Join(w.bad, "; "))
		if l, ok := src.(Layout); ok {
			p += "; " + l.rebuildHint(cmp.Or(t.entrySpec, t.rejectedSpec, t.Ref))
		}
		problems = append(problems, p)
	}
	if listErr != nil {
		problems = append(problems, fmt.Sprintf("referrers: %v", listErr))
	}
	if len(problems) > 0 {
		return Check{Name: CheckBlobs, Detail: strings.Join(problems, "; "), Problems: problems}
	}
	return Check{Name: CheckBlobs, OK: true, Detail: fmt.Sprintf("%d blobs (index, manifests, configs, layers, %d referrers) match their digests and sizes", w.n, len(refs))}
}

// walk checks the blob d names and, for a manifest or index, what it names.
// kind is "config" or "layer" for what a manifest names; empty: by media type.
func (w *blobWalk) walk(d v1.Descriptor, kind, from string) {
	if w.seen[d.Digest] {
		return
	}
	w.seen[d.Digest] = true
	w.n++
	what := kind
	if what == "" {
		what = blobKind(d.MediaType)
	}
	name := fmt.Sprintf("%s %s (%s)", what, d.Digest, from)
	manifest := d.MediaType.IsIndex() || d.MediaType.IsImage() || isManifestType(d.MediaType)
	b, n, sum, err := w.read(d, manifest)
	switch {
	case err != nil:
		w.bad = append(w.bad, fmt.Sprintf("%s: %v", name, err))
		return
	case sum != d.Digest.Hex || d.Digest.Algorithm != "sha256":
		w.bad = append(w.bad, fmt.Sprintf("%s: content has digest sha256:%s", name, sum))
		return
	case d.Size != 0 && n != d.Size:
		w.bad = append(w.bad, fmt.Sprintf("%s: %d bytes, its descriptor says %d", name, n, d.Size))
		return
	}
	if !manifest {
		return
	}
	if d.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(strings.NewReader(string(b)))
		if err != nil {
			w.bad = append(w.bad, fmt.Sprintf("%s: %v", name, err))
			return
		}
		for _, c := range im.Manifests {
			w.walk(c, "", "listed in index "+short(d.Digest))
		}
		return
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		w.bad = append(w.bad, fmt.Sprintf("%s: %v", name, err))
		return
	}
	w.walk(m.Config, "config", "config of manifest "+short(d.Digest))
	for i, l := range m.Layers {
		w.walk(l, "layer", fmt.Sprintf("layer %d of manifest %s", i+1, short(d.Digest)))
	}
}

// read hashes the blob h; it keeps the bytes of a manifest (small) only.
func (w *blobWalk) read(d v1.Descriptor, keep bool) ([]byte, int64, string, error) {
	rc, err := w.src.Blob(w.ctx, d)
	if err != nil {
		return nil, 0, "", err
	}
	defer rc.Close()
	sum := sha256.New()
	var r io.Reader = rc
	var buf strings.Builder
	if keep {
		r = io.TeeReader(io.LimitReader(rc, 8<<20), &buf)
	}
	n, err := io.Copy(sum, r)
	if err != nil {
		return nil, n, "", err
	}
	return []byte(buf.String()), n, hex.EncodeToString(sum.Sum(nil)), nil
}

func isManifestType(mt types.MediaType) bool {
	return mt == types.OCIManifestSchema1 || mt == types.DockerManifestSchema2
}

func blobKind(mt types.MediaType) string {
	switch {
	case mt.IsIndex():
		return "index"
	case mt.IsImage() || isManifestType(mt):
		return "manifest"
	case mt.IsConfig() || mt == "application/vnd.oci.empty.v1+json":
		return "config"
	case mt.IsLayer():
		return "layer"
	}
	return "blob"
}
