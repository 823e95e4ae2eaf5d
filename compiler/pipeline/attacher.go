package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/hic-build/hic/compiler/report"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
)

// SigningAttacher is the Attacher of a signed build: for every built spec it
// makes the signed attestations of compiler/attest (SLSA provenance, SPDX and
// CycloneDX SBOMs, hardening report) about the image index and each platform
// manifest, and cosign image signatures of the index and of each platform
// manifest, and returns them as OCI 1.1 referrers, stored in the layout the
// way attest.WriteReferrers and attest.WriteSignatures store them.
//
// The provenance's externalParameters.catalog.digest is the SHA-256 of the
// spec's source file (compile.Metadata.SourceFile, read below CatalogRoot),
// so an auditor can check it against one file of the catalog at GitCommit;
// the compiled spec, which the templates of the schema also shape, is covered
// by internalParameters.compiledSpecDigest, the SHA-256 of compile.Marshal
// (the file in out/compiled/).
type SigningAttacher struct {
	// Signer signs every envelope and image signature. Required.
	Signer sign.Signer
	// HicVersion is hic's version, recorded as the builder version.
	HicVersion string
	// CatalogRoot is the catalog directory the specs' SourceFile is
	// relative to. Empty: no catalog digest.
	CatalogRoot string
	// GitCommit is the catalog's git commit, when it is a git checkout.
	GitCommit string
	// Rules are the ids of every rule checked (static and post-build).
	Rules []string
	// StaticFindings are the static check findings of each spec by ref
	// (warnings and waived ones; failing ones stop a spec before the build).
	StaticFindings map[string][]finding.Finding

	mu      sync.Mutex
	digests map[string]string // source file -> digest
}

var _ Attacher = (*SigningAttacher)(nil)

// FileDigest is "sha256:<hex>" of a file's content.
func FileDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

func (a *SigningAttacher) sourceDigest(file string) (string, error) {
	if a.CatalogRoot == "" || file == "" {
		return "", nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := a.digests[file]; ok {
		return d, nil
	}
	d, err := FileDigest(filepath.Join(a.CatalogRoot, filepath.FromSlash(file)))
	if err != nil {
		return "", fmt.Errorf("catalog source digest: %w", err)
	}
	if a.digests == nil {
		a.digests = map[string]string{}
	}
	a.digests[file] = d
	return d, nil
}

// Attach signs the attestations and image signatures of one built spec.
func (a *SigningAttacher) Attach(ctx context.Context, img compile.Image, b *Built, r report.SpecReport) ([]store.Referrer, error) {
	if a.Signer == nil {
		return nil, errors.New("signing attacher: no signer")
	}
	idx, err := subjectOf(img.Repository, b.Index)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	image := attest.Image{Index: idx, IndexSPDX: b.IndexSBOM}
	subjects := []attest.Subject{idx}
	var pkgs []attest.Package
	for _, p := range b.Platforms {
		s, err := subjectOf(img.Repository, p.Image)
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", p.Platform, err)
		}
		ap := attest.Platform{Platform: p.Platform, Manifest: s, SPDX: p.SBOM}
		for _, q := range p.Packages {
			ap.Packages = append(ap.Packages, attest.Package{Name: q.Name, Version: q.Version, Arch: q.Arch, Repository: q.Repository, Checksum: q.Checksum})
		}
		pkgs = append(pkgs, ap.Packages...)
		image.Platforms = append(image.Platforms, ap)
		subjects = append(subjects, s)
	}
	compiled, err := compile.Digest(img)
	if err != nil {
		return nil, err
	}
	catDigest, err := a.sourceDigest(img.Metadata.SourceFile)
	if err != nil {
		return nil, err
	}
	findings := append(append([]finding.Finding(nil), a.StaticFindings[img.Ref]...), r.Findings...)
	finding.Sort(findings)
	in := attest.ImageInput{
		Image: image,
		Provenance: attest.Provenance{
			SpecRef:            img.Ref,
			CatalogDigest:      catDigest,
			GitCommit:          a.GitCommit,
			SourceFile:         img.Metadata.SourceFile,
			CompiledSpecDigest: compiled,
			Distro:             img.Metadata.Distro,
			Packages:           pkgs,
			HicVersion:         a.HicVersion,
			ApkoVersion:        ApkoVersion(),
			InputDigest:        r.InputDigest,
			BuildTime:          b.BuildDate,
		},
		Hardening: attest.Hardening{
			SpecRef:    img.Ref,
			Rules:      a.Rules,
			Exceptions: img.Policy.Exceptions,
			Findings:   findings,
		},
		Tool: attest.Tool{Name: "hic", Version: a.HicVersion},
	}
	atts, err := attest.ForImage(ctx, a.Signer, in)
	if err != nil {
		return nil, err
	}
	sigs, err := attest.SignImages(ctx, a.Signer, img.Repository, subjects...)
	if err != nil {
		return nil, err
	}
	var out []store.Referrer
	for _, at := range atts {
		for _, s := range at.Subjects {
			m, err := attest.ReferrerManifest(s.Descriptor(), at.PredicateType, at.Envelope)
			if err != nil {
				return nil, err
			}
			raw, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			out = append(out, store.Referrer{Manifest: raw, Blobs: [][]byte{at.Envelope}, Annotations: map[string]string{
				attest.AnnotationSubject:       s.Digest.String(),
				attest.AnnotationPredicateType: at.PredicateType,
			}})
		}
	}
	for _, sg := range sigs {
		ref, err := SignatureReferrer(sg)
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
	}
	return out, nil
}

// SignatureReferrer is the referrer that stores an image signature, as
// attest.WriteSignatures writes it: artifactType attest.SignatureArtifactType,
// the empty config, and one layer, the simple signing payload annotated with
// the signature.
func SignatureReferrer(sg attest.ImageSignature) (store.Referrer, error) {
	empty := []byte("{}")
	cfg, cfgSize, err := v1.SHA256(bytes.NewReader(empty))
	if err != nil {
		return store.Referrer{}, err
	}
	layer, layerSize, err := v1.SHA256(bytes.NewReader(sg.Payload))
	if err != nil {
		return store.Referrer{}, err
	}
	sub := sg.Subject.Descriptor()
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  attest.SignatureArtifactType,
		Config:        v1.Descriptor{MediaType: attest.EmptyMediaType, Digest: cfg, Size: cfgSize, Data: empty},
		Layers: []v1.Descriptor{{
			MediaType:   sign.SimpleSigningMediaType,
			Digest:      layer,
			Size:        layerSize,
			Annotations: map[string]string{sign.CosignSignatureAnnotation: sg.Signature},
		}},
		Subject: &v1.Descriptor{MediaType: sub.MediaType, Digest: sub.Digest, Size: sub.Size},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return store.Referrer{}, err
	}
	return store.Referrer{Manifest: raw, Blobs: [][]byte{sg.Payload}, Annotations: map[string]string{
		attest.AnnotationSubject: sg.Subject.Digest.String(),
	}}, nil
}

func subjectOf(name string, x describable) (attest.Subject, error) {
	d, err := descriptorOf(x)
	if err != nil {
		return attest.Subject{}, err
	}
	return attest.Subject{Name: name, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size}, nil
}
