package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
)

// Source is where images, signatures and attestations are read from: an OCI
// image layout (Layout) or a registry (Registry).
type Source interface {
	// Resolve finds the image index ref names.
	Resolve(ctx context.Context, ref string) (*Target, error)
	// Signatures returns the image signatures stored for subject.
	Signatures(ctx context.Context, subject v1.Hash) ([]attest.ImageSignature, error)
	// Attestations returns the DSSE envelopes stored for subject. An
	// envelope that cannot be read is returned with Err set.
	Attestations(ctx context.Context, subject v1.Hash) ([]Envelope, error)
}

// Target is the image a ref names.
type Target struct {
	// Ref is the ref as given.
	Ref string
	// Repository is the catalog repository the ref names ("nginx"), or the
	// full registry repository for a registry ref.
	Repository string
	// Tag is the ref's tag; empty for a spec ref or a digest.
	Tag string
	// SpecRef is set when ref is a spec ref.
	SpecRef string
	// Index is the image index and Digest its digest.
	Index  v1.ImageIndex
	Digest v1.Hash
	// Descriptor is the index's descriptor as the source lists it (its
	// index.json entry, or the registry's answer).
	Descriptor v1.Descriptor
	// entrySpec is the spec ref annotation of a layout entry, rejectedSpec
	// that of a rejected image's entry (it failed a post-build check and
	// is stored untagged and unsigned).
	entrySpec, rejectedSpec string
	// damaged says why the index blob cannot be read: it is missing or does
	// not match its digest (Index is nil then; the blobs check names it).
	damaged error
}

// Envelope is one stored attestation envelope.
type Envelope struct {
	// Where says where it was found ("referrer sha256:…", ".att tag").
	Where string
	Data  []byte
	// Err is set when the envelope could not be read (a blob that does not
	// match its digest).
	Err error
}

// Layout reads an OCI image layout written by hic build (read only; no lock
// is taken).
type Layout struct {
	Path layout.Path
}

// Resolve accepts a spec ref (dev.hic.spec.ref), an image ref
// ("repository:tag", org.opencontainers.image.ref.name), or
// "repository@sha256:…".
//
// index.json is read entry by entry (readIndex): one that does not parse
// fails the images it may be about, naming it, and no other. The image
// index blob is checked against its digest before it is parsed; one that
// does not match is Target.damaged.
func (l Layout) Resolve(ctx context.Context, ref string) (*Target, error) {
	im, bad, err := l.readIndex()
	if err != nil {
		return nil, err
	}
	repo, digest, byDigest := strings.Cut(ref, "@")
	var found *v1.Descriptor
	t := &Target{Ref: ref}
	for i, d := range im.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		name := d.Annotations["org.opencontainers.image.ref.name"]
		// repository@digest: the repository the image is published to, or
		// the image name of its spec (node-exporter-alpine publishes into
		// node-exporter).
		// A rejected image (failed a post-build check, never tagged) is
		// found by digest too, so an operator can see what fails in it.
		if byDigest && d.Digest.String() == digest && (strings.HasPrefix(name, repo+":") || strings.HasPrefix(d.Annotations["dev.hic.spec.ref"], repo+":") || strings.HasPrefix(d.Annotations["dev.hic.rejected.spec.ref"], repo+":")) {
			found, t.Repository = &im.Manifests[i], publishedRepo(d, repo)
			break
		}
		if !byDigest && name == ref {
			found = &im.Manifests[i]
			t.Repository, t.Tag, _ = strings.Cut(ref, ":")
			break
		}
	}
	if found == nil && !byDigest {
		for i, d := range im.Manifests {
			if d.MediaType.IsIndex() && d.Annotations["dev.hic.spec.ref"] == ref {
				found, t.SpecRef = &im.Manifests[i], ref
				image, _, _ := strings.Cut(ref, ":")
				t.Repository = publishedRepo(d, image)
				break
			}
		}
	}
	if found == nil {
		for _, e := range bad {
			if e.about(ref, nil, nil) {
				return nil, l.damaged(e)
			}
		}
		return nil, fmt.Errorf("layout %s: %w %q (want a spec ref, repository:tag or repository@sha256:…)", l.Path, ErrNoImage, ref)
	}
	t.Digest, t.Descriptor = found.Digest, *found
	t.entrySpec = found.Annotations["dev.hic.spec.ref"]
	t.rejectedSpec = found.Annotations["dev.hic.rejected.spec.ref"]
	spec := ref
	switch {
	case t.entrySpec != "":
		spec = t.entrySpec
	case t.rejectedSpec != "":
		spec = t.rejectedSpec
	}
	raw, err := l.readIndexBlob(*found, spec)
	if err != nil {
		t.damaged = err
		return t, nil
	}
	t.Index = &blobIndex{path: l.Path, desc: *found, raw: raw}
	return t, nil
}

// Blob opens a blob file of the layout.
func (l Layout) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	f, err := os.Open(filepath.Join(string(l.Path), "blobs", d.Digest.Algorithm, d.Digest.Hex))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("the blob is missing from the layout")
	}
	return f, err
}

// ReferrerDescriptors lists the index.json entries that are referrers of
// subjects: by their subject annotation, by their spec ref (the entries
// stored with the image), or by the subject their manifest names.
//
// An index.json entry that does not parse and may be about the image (see
// badEntry.about) is the error, beside the entries listed.
func (l Layout) ReferrerDescriptors(ctx context.Context, t *Target, subjects []v1.Hash) ([]ListedDescriptor, error) {
	im, bad, err := l.readIndex()
	if err != nil {
		return nil, err
	}
	var damaged []error
	for _, e := range bad {
		if e.about(t.Ref, t, subjects) {
			damaged = append(damaged, l.damaged(e))
		}
	}
	want := map[string]bool{}
	for _, s := range subjects {
		want[s.String()] = true
	}
	var out []ListedDescriptor
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			continue
		}
		listed := want[d.Annotations[attest.AnnotationSubject]] || (t.entrySpec != "" && d.Annotations["dev.hic.spec.ref"] == t.entrySpec)
		if !listed {
			// Read the manifest only for its subject; an unreadable one
			// is not known to be about this image.
			raw, err := os.ReadFile(filepath.Join(string(l.Path), "blobs", d.Digest.Algorithm, d.Digest.Hex))
			if err != nil {
				continue
			}
			var m v1.Manifest
			if json.Unmarshal(raw, &m) != nil || m.Subject == nil || !want[m.Subject.Digest.String()] {
				continue
			}
		}
		out = append(out, ListedDescriptor{Where: "index.json", Descriptor: d})
	}
	return out, errors.Join(damaged...)
}

// publishedRepo is the repository an index.json entry's ref name publishes
// into ("node-exporter" for node-exporter-alpine's specs), else fallback.
func publishedRepo(d v1.Descriptor, fallback string) string {
	if repo, _, ok := strings.Cut(d.Annotations["org.opencontainers.image.ref.name"], ":"); ok && repo != "" {
		return repo
	}
	return fallback
}

// Signatures reads the signature referrers of subject.
// (index.json's entries that parse: see readIndex).
func (l Layout) Signatures(ctx context.Context, subject v1.Hash) ([]attest.ImageSignature, error) {
	im, _, err := l.readIndex()
	if err != nil {
		return nil, err
	}
	return attest.SignaturesListed(ctx, l.Path, im.Manifests, subject)
}

// Attestations reads the attestation referrers of subject (index.json's
// entries that parse: see readIndex).
func (l Layout) Attestations(ctx context.Context, subject v1.Hash) ([]Envelope, error) {
	im, _, err := l.readIndex()
	if err != nil {
		return nil, err
	}
	refs, err := attest.ReferrersListed(ctx, l.Path, im.Manifests, subject, "")
	if err != nil {
		return nil, err
	}
	var out []Envelope
	for _, r := range refs {
		b, err := attest.ReadEnvelope(l.Path, r)
		out = append(out, Envelope{Where: "referrer " + r.Manifest.Digest.String(), Data: b, Err: err})
	}
	return out, nil
}

// ErrNoImage is returned (wrapped) by a Source's Resolve when the reference
// names no image: the caller's mistake, not a failed verification.
var ErrNoImage = errors.New("no image")

// ErrBadReference is returned (wrapped) by Registry's Resolve when the
// reference does not parse: the caller's mistake, not a failed
// verification.
var ErrBadReference = errors.New("not a registry reference")

// Registry reads images from a registry, with their signatures and
// attestations both from the referrers API (or its tag schema fallback) and
// from cosign's sha256-<hex>.sig and .att tags.
type Registry struct {
	// Prefix is "REGISTRY/PREFIX"; a ref without a registry is taken
	// relative to it. Empty: refs are full references.
	Prefix string
	// Keychain defaults to authn.DefaultKeychain.
	Keychain authn.Keychain
	// NameOptions parse the reference (name.Insecure for a registry spoken
	// to over plain HTTP; loopback registries are without it).
	NameOptions []name.Option

	repo name.Repository // of the last Resolve
}

func (r *Registry) opts(ctx context.Context) []remote.Option {
	kc := r.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
}

// Resolve resolves a registry reference, or a "repository:tag" relative to
// Prefix.
func (r *Registry) Resolve(ctx context.Context, ref string) (*Target, error) {
	full := ref
	if r.Prefix != "" {
		full = strings.TrimSuffix(r.Prefix, "/") + "/" + ref
	}
	nr, err := name.ParseReference(full, r.NameOptions...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", full, ErrBadReference, err)
	}
	desc, err := remote.Get(nr, r.opts(ctx)...)
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("%s: %w (%v)", full, ErrNoImage, err)
		}
		return nil, fmt.Errorf("%s: %w", full, err)
	}
	if !desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is a %s, want an image index", full, desc.MediaType)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", full, err)
	}
	r.repo = nr.Context()
	t := &Target{Ref: ref, Repository: nr.Context().RepositoryStr(), Index: idx, Digest: desc.Digest, Descriptor: desc.Descriptor}
	if tg, ok := nr.(name.Tag); ok {
		t.Tag = tg.TagStr()
	}
	return t, nil
}

// Signatures reads the signatures of subject from its .sig tag and its
// signature referrers.
func (r *Registry) Signatures(ctx context.Context, subject v1.Hash) ([]attest.ImageSignature, error) {
	var out []attest.ImageSignature
	err := r.eachStored(ctx, subject, "sig", attest.SignatureArtifactType, func(_ string, img v1.Image) error {
		s, err := attest.SignaturesIn(img, subject)
		out = append(out, s...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Attestations reads the envelopes of subject from its .att tag and its
// attestation referrers.
func (r *Registry) Attestations(ctx context.Context, subject v1.Hash) ([]Envelope, error) {
	var out []Envelope
	seen := map[v1.Hash]bool{}
	err := r.eachStored(ctx, subject, "att", attest.ArtifactType, func(where string, img v1.Image) error {
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		ls, err := img.Layers()
		if err != nil {
			return err
		}
		for i, l := range ls {
			if i >= len(m.Layers) || m.Layers[i].MediaType != sign.EnvelopeMediaType || seen[m.Layers[i].Digest] {
				continue
			}
			seen[m.Layers[i].Digest] = true
			b, err := attest.ReadLayer(l)
			out = append(out, Envelope{Where: where, Data: b, Err: err})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachStored calls add with each image cosign-style storage holds for
// subject: the image of its sha256-<hex>.SUFFIX tag, when there is one
// ("TAG tag"), then each of its referrers of artifactType ("referrer
// DIGEST").
func (r *Registry) eachStored(ctx context.Context, subject v1.Hash, suffix, artifactType string, add func(where string, img v1.Image) error) error {
	tag := cosignTag(subject, suffix)
	if img, err := remote.Image(r.repo.Tag(tag), r.opts(ctx)...); err == nil {
		if err := add(tag+" tag", img); err != nil {
			return fmt.Errorf("%s: %w", tag, err)
		}
	} else if !notFound(err) {
		return err
	}
	imgs, err := r.referrers(ctx, subject, artifactType)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		d, _ := img.Digest()
		if err := add("referrer "+d.String(), img); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) referrers(ctx context.Context, subject v1.Hash, artifactType string) ([]v1.Image, error) {
	idx, err := remote.Referrers(r.repo.Digest(subject.String()), r.opts(ctx)...)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("referrers of %s: %w", subject, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []v1.Image
	for _, d := range im.Manifests {
		if d.ArtifactType != artifactType {
			continue
		}
		img, err := remote.Image(r.repo.Digest(d.Digest.String()), r.opts(ctx)...)
		if err != nil {
			return nil, fmt.Errorf("referrer %s of %s: %w", d.Digest, subject, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// Blob reads a manifest (by digest, through the manifests endpoint) or a
// blob of the repository last resolved, as the registry serves it.
func (r *Registry) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	if d.MediaType.IsIndex() || d.MediaType.IsImage() || isManifestType(d.MediaType) {
		desc, err := remote.Get(r.repo.Digest(d.Digest.String()), r.opts(ctx)...)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(desc.Manifest)), nil
	}
	l, err := remote.Layer(r.repo.Digest(d.Digest.String()), r.opts(ctx)...)
	if err != nil {
		return nil, err
	}
	return l.Compressed()
}

// ReferrerDescriptors lists the referrers API's answer for each subject and
// the manifests cosign's .sig and .att tags name.
func (r *Registry) ReferrerDescriptors(ctx context.Context, t *Target, subjects []v1.Hash) ([]ListedDescriptor, error) {
	var out []ListedDescriptor
	for _, s := range subjects {
		idx, err := remote.Referrers(r.repo.Digest(s.String()), r.opts(ctx)...)
		if err != nil && !notFound(err) {
			return nil, fmt.Errorf("referrers of %s: %w", s, err)
		}
		if err == nil {
			im, err := idx.IndexManifest()
			if err != nil {
				return nil, fmt.Errorf("referrers of %s: %w", s, err)
			}
			for _, d := range im.Manifests {
				out = append(out, ListedDescriptor{Where: "the referrers of " + short(s), Descriptor: d})
			}
		}
		for _, suffix := range []string{"sig", "att"} {
			tag := cosignTag(s, suffix)
			desc, err := remote.Head(r.repo.Tag(tag), r.opts(ctx)...)
			if err != nil {
				if notFound(err) {
					continue
				}
				return nil, fmt.Errorf("tag %s: %w", tag, err)
			}
			out = append(out, ListedDescriptor{Where: "tag " + tag, Descriptor: *desc})
		}
	}
	return out, nil
}

func cosignTag(h v1.Hash, suffix string) string {
	return h.Algorithm + "-" + h.Hex + "." + suffix
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == 404
}
