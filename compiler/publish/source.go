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
	Referrers   []Referrer
}

// Referrer is an OCI 1.1 artifact manifest with a subject: an attestation or
// a signature of an image index or of one of its platform manifests.
type Referrer struct {
	Subject  v1.Descriptor
	Artifact v1.Image
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
// are one image with several tags. Each entry whose manifest has a subject is
// a referrer and is attached to the images that contain its subject.
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

	// With a selection, only the referrers stored for specs that built a
	// selected index are read (the store names the spec on each entry);
	// entries without that annotation are always read.
	specsOf := map[v1.Hash][]string{}
	selectedDigests := map[v1.Hash]bool{}
	var candidates []v1.Descriptor
	for _, desc := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if desc.MediaType.IsIndex() {
			if s := desc.Annotations[AnnotationSpecRef]; s != "" {
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
				selectedDigests[desc.Digest] = true
			}
			if !contains(img.Tags, tag) {
				img.Tags = append(img.Tags, tag)
			}
			continue
		}
		if desc.MediaType == types.OCIManifestSchema1 {
			candidates = append(candidates, desc)
		}
	}
	for r, hit := range want {
		if !hit {
			return nil, fmt.Errorf("read layout %s: no image matches %q", p, r)
		}
	}
	var wantSpecs map[string]bool
	if len(want) > 0 {
		wantSpecs = map[string]bool{}
		for d := range selectedDigests {
			for _, s := range specsOf[d] {
				wantSpecs[s] = true
			}
		}
	}

	images := make([]Image, 0, len(order))
	for _, k := range order {
		images = append(images, *byKey[k])
	}
	sort.SliceStable(images, func(i, j int) bool { return images[i].Name() < images[j].Name() })
	bySubject := map[v1.Hash][]int{}
	for i := range images {
		subjects, err := subjectsOf(images[i].Index)
		if err != nil {
			return nil, fmt.Errorf("read layout %s: %s: %w", p, images[i].Name(), err)
		}
		for d := range subjects {
			bySubject[d] = append(bySubject[d], i)
		}
	}
	for _, desc := range candidates {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s := desc.Annotations[AnnotationSpecRef]; wantSpecs != nil && s != "" && !wantSpecs[s] {
			continue
		}
		bi, subject, err := subjectOf(p, desc)
		if err != nil {
			return nil, fmt.Errorf("read layout %s: entry %s: %w", p, desc.Digest, err)
		}
		if subject == nil {
			continue
		}
		holders := bySubject[subject.Digest]
		if len(holders) == 0 {
			continue
		}
		art, err := partial.CompressedToImage(bi)
		if err != nil {
			return nil, fmt.Errorf("read layout %s: entry %s: %w", p, desc.Digest, err)
		}
		r := Referrer{Subject: *subject, Artifact: art}
		for _, i := range dedupe(holders) {
			images[i].Referrers = append(images[i].Referrers, r)
		}
	}
	return images, nil
}

// dedupe drops repeated indexes from a sorted-by-insertion list.
func dedupe(xs []int) []int {
	out := xs[:0:0]
	seen := map[int]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// subjectsOf is the set of digests a referrer of idx may name: the index
// and every manifest below it.
func subjectsOf(idx v1.ImageIndex) (map[v1.Hash]bool, error) {
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	set := map[v1.Hash]bool{d: true}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, c := range im.Manifests {
		set[c.Digest] = true
		if c.MediaType.IsIndex() {
			child, err := idx.ImageIndex(c.Digest)
			if err != nil {
				return nil, err
			}
			sub, err := subjectsOf(child)
			if err != nil {
				return nil, err
			}
			for k := range sub {
				set[k] = true
			}
		}
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
