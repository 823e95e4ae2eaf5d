package publish

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
)

// Annotations hic's store writes on index.json entries.
const (
	// AnnotationRefName holds "repository:tag" for an image index entry.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationSpecRef holds the spec an image was built from.
	AnnotationSpecRef = "dev.hic.spec.ref"
	// AnnotationInputDigest holds the input digest of the spec's build.
	AnnotationInputDigest = "dev.hic.input-digest"
)

// Image is one image index to publish: where it goes (Repository, relative
// to the destination prefix, and Tags) and the referrers (attestations,
// signatures) whose subject is the index or one of its child manifests.
type Image struct {
	Repository string
	Tags       []string
	SpecRef    string
	// InputDigest is the input digest the image was built for, if the
	// layout names it: it is pushed as the tag InputTag(InputDigest), by
	// which later builds find the image (hic build --cache-from).
	InputDigest string
	Index       v1.ImageIndex
	// Referrers are the image's referrers. FromLayout leaves them unread
	// (see ReadReferrers) until the image is pushed.
	Referrers []Referrer
	// unread are the layout entries that may be referrers of Index, in
	// index.json order, for ReadReferrers; nil once read.
	unread *unreadReferrers
}

// unreadReferrers are the index.json entries FromLayout found that may be
// referrers of an image, not yet read.
type unreadReferrers struct {
	p     layout.Path
	descs []v1.Descriptor
}

// ReadReferrers reads the referrers FromLayout left unread: each candidate
// entry's manifest is read by digest (and its digest checked), and those
// whose subject is the index or one of its manifests are appended to
// Referrers. PublishImages calls it for the images it pushes, before it
// pushes anything, so an image the registry holds whole costs no referrer
// read. Calling it again does
// nothing.
func (img *Image) ReadReferrers(ctx context.Context) error {
	u := img.unread
	if u == nil {
		return nil
	}
	subjects, err := subjectsOf(img.Index)
	if err != nil {
		return fmt.Errorf("read layout %s: %s: %w", u.p, img.Name(), err)
	}
	for _, desc := range u.descs {
		if err := ctx.Err(); err != nil {
			return err
		}
		bi, subject, err := subjectOf(u.p, desc)
		if err != nil {
			return fmt.Errorf("read layout %s: entry %s: %w", u.p, desc.Digest, err)
		}
		if subject == nil || !subjects[subject.Digest] {
			continue
		}
		art, err := partial.CompressedToImage(bi)
		if err != nil {
			return fmt.Errorf("read layout %s: entry %s: %w", u.p, desc.Digest, err)
		}
		img.Referrers = append(img.Referrers, Referrer{Subject: *subject, Artifact: art, KeyID: desc.Annotations[attest.AnnotationKeyID]})
	}
	img.unread = nil
	return nil
}

// Referrer is an OCI 1.1 artifact manifest with a subject: an attestation or
// a signature of an image index or of one of its platform manifests.
type Referrer struct {
	Subject  v1.Descriptor
	Artifact v1.Image
	// KeyID is the key id the layout's index.json names on its entry
	// (attest.AnnotationKeyID), if any: a label for messages, not checked.
	KeyID string
}

// Name is "repository:tag" with the first tag, for messages.
func (img Image) Name() string {
	if len(img.Tags) == 0 {
		return img.Repository
	}
	return img.Repository + ":" + img.Tags[0]
}

// FromLayout reads the images to publish from an OCI image layout.
//
// Each index.json entry annotated with org.opencontainers.image.ref.name =
// "repository:tag" is an image; entries with the same repository and digest
// are one image with several tags. Each other image-manifest entry stored
// for a spec that built the image (dev.hic.spec.ref), or stored for no spec,
// may be one of its referrers: those whose manifest has the image's index or
// one of its manifests as subject are. They are read by ReadReferrers, not
// here: reading the layout costs index.json and the selected images'
// indexes, and an image the registry already holds costs nothing more.
//
// refs, if not empty, selects what to publish: "repository:tag" selects that
// tag, "repository" all tags of a repository, and a dev.hic.spec.ref value
// the tags built from that spec. A ref that selects nothing is an error.
func FromLayout(ctx context.Context, p layout.Path, refs ...string) ([]Image, error) {
	// index.json is parsed once and every manifest is read by digest from
	// the blobs: the cost grows with what is selected, not with the layout.
	im, err := parseIndexJSON(p)
	if err != nil {
		return nil, fmt.Errorf("read layout %s: %w", p, err)
	}

	type key struct {
		repo   string
		digest v1.Hash
	}
	byKey := map[key]*Image{}
	var order []key
	want := map[string]bool{}
	for _, r := range refs {
		want[r] = false
	}
	selected := func(repo, tag, spec string) bool {
		if len(want) == 0 {
			return true
		}
		hit := false
		for _, r := range []string{repo + ":" + tag, repo, spec} {
			if _, ok := want[r]; ok && r != "" {
				want[r] = true
				hit = true
			}
		}
		return hit
	}

	// The candidate referrers, by the spec the store names on each entry
	// ("" for none), as indexes into im.Manifests.
	specsOf := map[v1.Hash][]string{}
	candidates := map[string][]int{}
	for i, desc := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if desc.MediaType.IsIndex() {
			if s := desc.Annotations[AnnotationSpecRef]; s != "" && !contains(specsOf[desc.Digest], s) {
				specsOf[desc.Digest] = append(specsOf[desc.Digest], s)
			}
		}
		if ref, ok := desc.Annotations[AnnotationRefName]; ok {
			repo, tag, err := splitRef(ref)
			if err != nil {
				return nil, fmt.Errorf("read layout %s: entry %s: %w", p, desc.Digest, err)
			}
			spec := desc.Annotations[AnnotationSpecRef]
			if !selected(repo, tag, spec) {
				continue
			}
			if !desc.MediaType.IsIndex() {
				return nil, fmt.Errorf("read layout %s: %s is a %s, want an image index", p, ref, desc.MediaType)
			}
			k := key{repo, desc.Digest}
			img, ok := byKey[k]
			if !ok {
				idx, err := openIndex(p, desc)
				if err != nil {
					return nil, fmt.Errorf("read layout %s: %s: %w", p, ref, err)
				}
				img = &Image{Repository: repo, SpecRef: spec, InputDigest: desc.Annotations[AnnotationInputDigest], Index: idx}
				byKey[k] = img
				order = append(order, k)
			}
			if !contains(img.Tags, tag) {
				img.Tags = append(img.Tags, tag)
			}
			continue
		}
		if desc.MediaType == types.OCIManifestSchema1 {
			s := desc.Annotations[AnnotationSpecRef]
			candidates[s] = append(candidates[s], i)
		}
	}
	for r, hit := range want {
		if !hit {
			return nil, fmt.Errorf("read layout %s: no image matches %q", p, r)
		}
	}

	images := make([]Image, 0, len(order))
	for _, k := range order {
		img := *byKey[k]
		// The entries stored for no spec, then those of each spec that
		// built the image, read in index.json order.
		is := append([]int(nil), candidates[""]...)
		for _, s := range specsOf[k.digest] {
			is = append(is, candidates[s]...)
		}
		sort.Ints(is)
		u := &unreadReferrers{p: p, descs: make([]v1.Descriptor, 0, len(is))}
		for j, i := range is {
			if j == 0 || i != is[j-1] {
				u.descs = append(u.descs, im.Manifests[i])
			}
		}
		img.unread = u
		images = append(images, img)
	}
	sort.SliceStable(images, func(i, j int) bool { return images[i].Name() < images[j].Name() })
	return images, nil
}

// subjectsOf is the set of digests a referrer of idx may name: the index
// and every manifest below it.
func subjectsOf(idx v1.ImageIndex) (map[v1.Hash]bool, error) {
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	set := map[v1.Hash]bool{d: true}
	err = walkIndex(idx, func(_ v1.ImageIndex, c v1.Descriptor) error {
		set[c.Digest] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

// splitRef splits "repository:tag" at the last colon after the last slash.
func splitRef(ref string) (repo, tag string, err error) {
	i := strings.LastIndex(ref, ":")
	if i <= 0 || i < strings.LastIndex(ref, "/") || i == len(ref)-1 {
		return "", "", fmt.Errorf("%s %q is not repository:tag", AnnotationRefName, ref)
	}
	return ref[:i], ref[i+1:], nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
