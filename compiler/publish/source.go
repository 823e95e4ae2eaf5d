package publish

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations hic's store writes on index.json entries.
const (
	// AnnotationRefName holds "repository:tag" for an image index entry.
	AnnotationRefName = "org.opencontainers.image.ref.name"
	// AnnotationSpecRef holds the spec an image was built from.
	AnnotationSpecRef = "dev.hic.spec.ref"
)

// Image is one image index to publish: where it goes (Repository, relative
// to the destination prefix, and Tags) and the referrers (attestations,
// signatures) whose subject is the index or one of its child manifests.
type Image struct {
	Repository string
	Tags       []string
	SpecRef    string
	Index      v1.ImageIndex
	Referrers  []Referrer
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
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read layout %s: %w", p, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read layout %s: index.json: %w", p, err)
	}

	type key struct {
		repo   string
		digest v1.Hash
	}
	byKey := map[key]*Image{}
	var order []key
	var referrers []Referrer
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

	for _, desc := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return nil, err
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
				idx, err := ii.ImageIndex(desc.Digest)
				if err != nil {
					return nil, fmt.Errorf("read layout %s: %s: %w", p, ref, err)
				}
				img = &Image{Repository: repo, SpecRef: spec, Index: idx}
				byKey[k] = img
				order = append(order, k)
			}
			if !contains(img.Tags, tag) {
				img.Tags = append(img.Tags, tag)
			}
			continue
		}
		ref, ok, err := readReferrer(ii, desc)
		if err != nil {
			return nil, fmt.Errorf("read layout %s: entry %s: %w", p, desc.Digest, err)
		}
		if ok {
			referrers = append(referrers, ref)
		}
	}
	for r, hit := range want {
		if !hit {
			return nil, fmt.Errorf("read layout %s: no image matches %q", p, r)
		}
	}

	images := make([]Image, 0, len(order))
	for _, k := range order {
		images = append(images, *byKey[k])
	}
	sort.SliceStable(images, func(i, j int) bool { return images[i].Name() < images[j].Name() })
	for i := range images {
		subjects, err := subjectsOf(images[i].Index)
		if err != nil {
			return nil, fmt.Errorf("read layout %s: %s: %w", p, images[i].Name(), err)
		}
		for _, r := range referrers {
			if subjects[r.Subject.Digest] {
				images[i].Referrers = append(images[i].Referrers, r)
			}
		}
	}
	return images, nil
}

// readReferrer loads an index.json entry as a referrer if its manifest has a
// subject. Entries that are not image manifests, or have no subject, are not
// referrers.
func readReferrer(ii v1.ImageIndex, desc v1.Descriptor) (Referrer, bool, error) {
	if desc.MediaType != types.OCIManifestSchema1 {
		return Referrer{}, false, nil
	}
	img, err := ii.Image(desc.Digest)
	if err != nil {
		return Referrer{}, false, err
	}
	m, err := img.Manifest()
	if err != nil {
		return Referrer{}, false, err
	}
	if m.Subject == nil {
		return Referrer{}, false, nil
	}
	return Referrer{Subject: *m.Subject, Artifact: img}, true, nil
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
