package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
	// AnnotationKeyID on the index.json entry of an attestation or image
	// signature is the id of the key that signed it (sign.KeyID), as the
	// signing attacher writes it: the build reads it to keep a layout to
	// one key without reading a blob. It is a label, not evidence: hic
	// publish --key and hic verify check the signatures themselves.
	AnnotationKeyID = "dev.hic.key-id"
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

// Referrers lists the attestations stored in the layout at p about the image
// with the given digest, sorted by predicate type and manifest digest. An
// empty predicateType lists all; otherwise only that predicate type.
func Referrers(ctx context.Context, p layout.Path, digest v1.Hash, predicateType string) ([]Referrer, error) {
	entries, err := indexEntries(p)
	if err != nil {
		return nil, err
	}
	return ReferrersListed(ctx, p, entries, digest, predicateType)
}

// ReferrersListed is Referrers among entries, the layout's index.json
// entries as the caller read them (a reader that skips the entries that do
// not parse, say).
func ReferrersListed(ctx context.Context, p layout.Path, entries []v1.Descriptor, digest v1.Hash, predicateType string) ([]Referrer, error) {
	found, err := scanReferrers(ctx, p, entries, digest, ArtifactType, sign.EnvelopeMediaType)
	if err != nil {
		return nil, err
	}
	var out []Referrer
	for _, f := range found {
		pt := f.layer.Annotations[AnnotationPredicateType]
		if pt == "" {
			pt = f.layer.Annotations[AnnotationCosignPredicateType]
		}
		if predicateType != "" && pt != predicateType {
			continue
		}
		out = append(out, Referrer{Manifest: f.desc, Subject: digest, PredicateType: pt, Envelope: f.layer})
	}
	slices.SortFunc(out, func(a, b Referrer) int {
		return cmpJoin(strings.Compare(a.PredicateType, b.PredicateType),
			strings.Compare(a.Manifest.Digest.String(), b.Manifest.Digest.String()),
			strings.Compare(a.Envelope.Digest.String(), b.Envelope.Digest.String()))
	})
	return out, nil
}

// scanned is a layer of a referrer manifest.
type scanned struct {
	desc    v1.Descriptor // the manifest's, as in index.json
	subject v1.Descriptor // the manifest's subject
	layer   v1.Descriptor
}

// indexEntries reads the entries of the layout's index.json.
func indexEntries(p layout.Path) ([]v1.Descriptor, error) {
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", p, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("layout %s: %w", p, err)
	}
	return im.Manifests, nil
}

// scanReferrers returns the layers of media type layerType of the manifests
// listed in entries (index.json's) whose subject is digest and whose
// artifactType is artifactType, in index.json and layer order.
func scanReferrers(ctx context.Context, p layout.Path, entries []v1.Descriptor, digest v1.Hash, artifactType string, layerType types.MediaType) ([]scanned, error) {
	var out []scanned
	for _, d := range entries {
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
		for _, l := range m.Layers {
			if l.MediaType == layerType {
				out = append(out, scanned{desc: d, subject: *m.Subject, layer: l})
			}
		}
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
	if err := checkDigest(b, h); err != nil {
		return nil, fmt.Errorf("blob %w", err)
	}
	return b, nil
}

// ReadLayer reads a layer's bytes as stored (a signature's payload, an
// envelope), from a layout or a registry; a layer whose content does not
// match its digest is an error.
func ReadLayer(l v1.Layer) ([]byte, error) {
	want, err := l.Digest()
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(b, want); err != nil {
		return nil, fmt.Errorf("layer %w", err)
	}
	return b, nil
}

// checkDigest returns an error "WANT has digest GOT" when b does not hash
// to want.
func checkDigest(b []byte, want v1.Hash) error {
	got, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s has digest %s", want, got)
	}
	return nil
}
