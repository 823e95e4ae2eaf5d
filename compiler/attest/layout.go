package attest

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
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/sign"
)

// Media types, artifact type and annotations of stored attestations.
const (
	// ArtifactType is the artifactType of attestation referrer manifests,
	// as cosign writes them.
	ArtifactType = sign.InTotoPayloadType
	// EmptyMediaType is the media type of the OCI 1.1 empty config.
	EmptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

	// AnnotationPredicateType names the predicate type on the referrer
	// manifest, its layer and its index.json entry (as Docker/BuildKit do).
	AnnotationPredicateType = "in-toto.io/predicate-type"
	// AnnotationCosignPredicateType names the predicate type on the layer,
	// as cosign does for attestation layers.
	AnnotationCosignPredicateType = "predicateType"
	// AnnotationSubject on an index.json entry is the digest of the image
	// the referrer manifest is about.
	AnnotationSubject = "dev.hic.attestation.subject"
	// AnnotationTitle on a layer is the file name `oras pull` saves it
	// under (a layer without one is not saved).
	AnnotationTitle = "org.opencontainers.image.title"
)

// AttestationTitle is the file name of an attestation's envelope layer:
// provenance.dsse.json, sbom.spdx.dsse.json, sbom.cdx.dsse.json,
// hardening.dsse.json, or for another predicate type the last word of its
// URI that is not a version ("https://openvex.dev/ns/v0.2.0" gives
// openvex.dsse.json).
func AttestationTitle(predicateType string) string {
	return titleOf(predicateType) + ".dsse.json"
}

var (
	versionWord = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)*$`)
	titleUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
)

func titleOf(predicateType string) string {
	switch predicateType {
	case PredicateSLSAProvenance:
		return "provenance"
	case PredicateSPDX:
		return "sbom.spdx"
	case PredicateCycloneDX:
		return "sbom.cdx"
	case PredicateHardening:
		return "hardening"
	}
	// https://openvex.dev/ns/v0.2.0 -> openvex; https://example.com/a/b/v1 -> b.
	t := strings.TrimPrefix(strings.TrimPrefix(predicateType, "https://"), "http://")
	host, path, _ := strings.Cut(t, "/")
	words := strings.Split(path, "/")
	if h, _, _ := strings.Cut(host, "."); h != "" && strings.Contains(host, ".") {
		words = append([]string{h}, words...)
	}
	for i := len(words) - 1; i >= 0; i-- {
		w := words[i]
		if w == "" || w == "ns" || versionWord.MatchString(w) {
			continue
		}
		return titleUnsafe.ReplaceAllString(w, "-")
	}
	return "attestation"
}

// emptyConfig is the OCI 1.1 empty JSON object, "{}".
var emptyConfig = []byte("{}")

// Referrer is an attestation stored in a layout as a referrer manifest.
type Referrer struct {
	// Manifest is the referrer manifest's descriptor (as in index.json).
	Manifest v1.Descriptor
	// Subject is the digest of the image it refers to.
	Subject v1.Hash
	// PredicateType is the attestation's predicate type.
	PredicateType string
	// Envelope is the descriptor of the DSSE envelope blob.
	Envelope v1.Descriptor
}

// ReferrerManifest returns the referrer manifest that stores an envelope
// about subject.
func ReferrerManifest(subject v1.Descriptor, predicateType string, envelope []byte) (*v1.Manifest, error) {
	return artifactManifest(subject, attestationArtifact(predicateType, envelope))
}

// artifact is what one referrer manifest holds: one layer, and annotations.
type artifact struct {
	artifactType     string
	layerType        types.MediaType
	layer            []byte
	layerAnnotations map[string]string
	annotations      map[string]string // on the manifest
	indexAnnotations map[string]string // on the index.json entry, besides the subject
}

func attestationArtifact(predicateType string, envelope []byte) artifact {
	return artifact{
		artifactType: ArtifactType,
		layerType:    sign.EnvelopeMediaType,
		layer:        envelope,
		layerAnnotations: map[string]string{
			AnnotationCosignPredicateType: predicateType,
			AnnotationPredicateType:       predicateType,
			AnnotationTitle:               AttestationTitle(predicateType),
		},
		annotations:      map[string]string{AnnotationPredicateType: predicateType},
		indexAnnotations: map[string]string{AnnotationPredicateType: predicateType},
	}
}

func artifactManifest(subject v1.Descriptor, a artifact) (*v1.Manifest, error) {
	if subject.Digest.Hex == "" || subject.MediaType == "" || subject.Size <= 0 {
		return nil, fmt.Errorf("referrer: subject descriptor %v is incomplete (digest, media type and size are required)", subject.Digest)
	}
	layerDigest, layerSize, err := v1.SHA256(bytes.NewReader(a.layer))
	if err != nil {
		return nil, err
	}
	cfgDigest, cfgSize, err := v1.SHA256(bytes.NewReader(emptyConfig))
	if err != nil {
		return nil, err
	}
	return &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  a.artifactType,
		Config: v1.Descriptor{
			MediaType: EmptyMediaType,
			Digest:    cfgDigest,
			Size:      cfgSize,
			Data:      emptyConfig,
		},
		Layers: []v1.Descriptor{{
			MediaType:   a.layerType,
			Digest:      layerDigest,
			Size:        layerSize,
			Annotations: a.layerAnnotations,
		}},
		Subject: &v1.Descriptor{
			MediaType: subject.MediaType,
			Digest:    subject.Digest,
			Size:      subject.Size,
		},
		Annotations: a.annotations,
	}, nil
}

// WriteReferrers stores every attestation as a referrer of each of its
// subjects in the layout at p, creating the layout when it does not exist.
// Writing is idempotent: blobs and index.json entries that are there already
// are kept, so a second run changes nothing. It returns the descriptors of
// the referrer manifests, in order.
//
// index.json is read, changed and rewritten: callers must not write the same
// layout's index.json from another goroutine or process at the same time.
func WriteReferrers(ctx context.Context, p layout.Path, atts []Attestation) ([]v1.Descriptor, error) {
	var items []referrerItem
	for _, a := range atts {
		for _, s := range a.Subjects {
			items = append(items, referrerItem{s.Descriptor(), attestationArtifact(a.PredicateType, a.Envelope)})
		}
	}
	return writeArtifacts(ctx, p, items)
}

type referrerItem struct {
	subject v1.Descriptor
	art     artifact
}

func writeArtifacts(ctx context.Context, p layout.Path, items []referrerItem) ([]v1.Descriptor, error) {
	if err := ensureLayout(p); err != nil {
		return nil, err
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", p, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", p, err)
	}
	have := map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		have[d.Digest] = true
	}
	var out []v1.Descriptor
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		desc, err := writeReferrer(p, it.subject, it.art)
		if err != nil {
			return nil, fmt.Errorf("layout %s: %s for %s: %w", p, it.art.artifactType, it.subject.Digest, err)
		}
		if !have[desc.Digest] {
			if err := p.AppendDescriptor(desc); err != nil {
				return nil, fmt.Errorf("layout %s: add %s to index.json: %w", p, desc.Digest, err)
			}
			have[desc.Digest] = true
		}
		out = append(out, desc)
	}
	return out, nil
}

func writeReferrer(p layout.Path, subject v1.Descriptor, a artifact) (v1.Descriptor, error) {
	m, err := artifactManifest(subject, a)
	if err != nil {
		return v1.Descriptor{}, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	mDigest, mSize, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, b := range []struct {
		h    v1.Hash
		data []byte
	}{{m.Config.Digest, emptyConfig}, {m.Layers[0].Digest, a.layer}, {mDigest, raw}} {
		if err := writeBlob(p, b.h, b.data); err != nil {
			return v1.Descriptor{}, err
		}
	}
	ann := map[string]string{AnnotationSubject: subject.Digest.String()}
	for k, v := range a.indexAnnotations {
		ann[k] = v
	}
	return v1.Descriptor{
		MediaType:    types.OCIManifestSchema1,
		Digest:       mDigest,
		Size:         mSize,
		ArtifactType: a.artifactType,
		Annotations:  ann,
	}, nil
}

// writeBlob writes data as blob h unless a blob with that content is there;
// a blob whose content does not match its name is replaced.
func writeBlob(p layout.Path, h v1.Hash, data []byte) error {
	if old, err := p.Bytes(h); err == nil {
		if got, _, err := v1.SHA256(bytes.NewReader(old)); err == nil && got == h {
			return nil
		}
		if err := p.RemoveBlob(h); err != nil {
			return fmt.Errorf("replace corrupt blob %s: %w", h, err)
		}
	}
	if err := p.WriteBlob(h, io.NopCloser(bytes.NewReader(data))); err != nil {
		return fmt.Errorf("write blob %s: %w", h, err)
	}
	return nil
}

func ensureLayout(p layout.Path) error {
	_, err := os.Stat(filepath.Join(string(p), "index.json"))
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("layout %s: %w", p, err)
	}
	if _, err := layout.Write(string(p), empty.Index); err != nil {
		return fmt.Errorf("create layout %s: %w", p, err)
	}
	return nil
}

// Referrers lists the attestations stored in the layout at p about the image
// with the given digest, sorted by predicate type and manifest digest. An
// empty predicateType lists all; otherwise only that predicate type.
func Referrers(ctx context.Context, p layout.Path, digest v1.Hash, predicateType string) ([]Referrer, error) {
	found, err := scanReferrers(ctx, p, digest, ArtifactType)
	if err != nil {
		return nil, err
	}
	var out []Referrer
	for _, f := range found {
		for _, l := range f.manifest.Layers {
			if l.MediaType != sign.EnvelopeMediaType {
				continue
			}
			pt := l.Annotations[AnnotationPredicateType]
			if pt == "" {
				pt = l.Annotations[AnnotationCosignPredicateType]
			}
			if predicateType != "" && pt != predicateType {
				continue
			}
			out = append(out, Referrer{Manifest: f.desc, Subject: digest, PredicateType: pt, Envelope: l})
		}
	}
	slices.SortFunc(out, func(a, b Referrer) int {
		return cmpJoin(strings.Compare(a.PredicateType, b.PredicateType),
			strings.Compare(a.Manifest.Digest.String(), b.Manifest.Digest.String()),
			strings.Compare(a.Envelope.Digest.String(), b.Envelope.Digest.String()))
	})
	return out, nil
}

type scanned struct {
	desc     v1.Descriptor
	manifest v1.Manifest
}

// scanReferrers returns the manifests listed in index.json whose subject is
// digest and whose artifactType is artifactType.
func scanReferrers(ctx context.Context, p layout.Path, digest v1.Hash, artifactType string) ([]scanned, error) {
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", p, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", p, err)
	}
	var out []scanned
	for _, d := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if d.MediaType != types.OCIManifestSchema1 {
			continue
		}
		// The annotations only save reading the manifest; the manifest decides.
		if s, ok := d.Annotations[AnnotationSubject]; ok && s != digest.String() {
			continue
		}
		if d.ArtifactType != "" && d.ArtifactType != artifactType {
			continue
		}
		raw, err := readVerified(p, d.Digest)
		if err != nil {
			return nil, fmt.Errorf("layout %s: %w", p, err)
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("layout %s: manifest %s: %w", p, d.Digest, err)
		}
		if m.Subject == nil || m.Subject.Digest != digest || m.ArtifactType != artifactType {
			continue
		}
		out = append(out, scanned{d, m})
	}
	return out, nil
}

// ReadEnvelope reads a referrer's DSSE envelope JSON from the layout and
// checks it against its digest.
func ReadEnvelope(p layout.Path, r Referrer) ([]byte, error) {
	b, err := readVerified(p, r.Envelope.Digest)
	if err != nil {
		return nil, fmt.Errorf("layout %s: envelope of %s: %w", p, r.Manifest.Digest, err)
	}
	return b, nil
}

func readVerified(p layout.Path, h v1.Hash) ([]byte, error) {
	b, err := p.Bytes(h)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if got != h {
		return nil, fmt.Errorf("blob %s has digest %s", h, got)
	}
	return b, nil
}
