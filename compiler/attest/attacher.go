package attest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/smoke"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/vex"
)

// Built is what SigningAttacher needs of one built spec.
type Built struct {
	// Image names the index and platform manifests as subjects, with their
	// SPDX SBOMs and installed packages.
	Image Image
	// BuildDate is the images' reproducible creation time (zero: unknown).
	BuildDate time.Time
	// InputDigest is the spec's input digest; ApkoVersion the apko that built it.
	InputDigest string
	ApkoVersion string
	// Findings are the post-build findings.
	Findings []finding.Finding
	// Tests are the smoke-test results, for the hardening report.
	Tests []smoke.Result
	// Synthetic says the image was built from a generated mirror.
	Synthetic bool
}

// SigningAttacher is the pipeline's Attacher of a signed build: for every built spec it
// makes the signed attestations of compiler/attest (SLSA provenance, SPDX and
// CycloneDX SBOMs, hardening report) about the image index and each platform
// manifest, and cosign image signatures of the index and of each platform
// manifest, and returns them as OCI 1.1 referrers (AttestationReferrer,
// SignatureReferrer) for the store's Put, beside the image.
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
	// Advisories are the catalog's vulnerability advisories: every image
	// gets a signed OpenVEX document of those about the packages it
	// contains (none: a document with no statements).
	Advisories *vex.Advisories

	mu      sync.Mutex
	digests map[string]string // source file -> digest
}

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
func (a *SigningAttacher) Attach(ctx context.Context, img compile.Image, b Built) ([]store.Referrer, error) {
	if a.Signer == nil {
		return nil, errors.New("signing attacher: no signer")
	}
	image := b.Image
	subjects := []Subject{image.Index}
	var pkgs []Package
	for _, p := range image.Platforms {
		pkgs = append(pkgs, p.Packages...)
		subjects = append(subjects, p.Manifest)
	}
	compiled, err := compile.Digest(img)
	if err != nil {
		return nil, err
	}
	catDigest, err := a.sourceDigest(img.Metadata.SourceFile)
	if err != nil {
		return nil, err
	}
	findings := append(append([]finding.Finding(nil), a.StaticFindings[img.Ref]...), b.Findings...)
	finding.Sort(findings)
	in := ImageInput{
		Image: image,
		Provenance: Provenance{
			SpecRef:            img.Ref,
			CatalogDigest:      catDigest,
			GitCommit:          a.GitCommit,
			SourceFile:         img.Metadata.SourceFile,
			CompiledSpecDigest: compiled,
			Distro:             img.Metadata.Distro,
			Packages:           pkgs,
			HicVersion:         a.HicVersion,
			ApkoVersion:        b.ApkoVersion,
			InputDigest:        b.InputDigest,
			BuildTime:          b.BuildDate,
		},
		Hardening: Hardening{
			SpecRef:    img.Ref,
			Rules:      a.Rules,
			Exceptions: img.Policy.Exceptions,
			Findings:   findings,
			Tests:      b.Tests,
			Synthetic:  b.Synthetic,
		},
		Tool: Tool{Name: "hic", Version: a.HicVersion},
	}
	vin, err := a.vexInput(img, b)
	if err != nil {
		return nil, err
	}
	if in.VEX, err = vex.Document(a.Advisories, vin); err != nil {
		return nil, err
	}
	if in.Provenance.AdvisoriesDigest, err = a.Advisories.DigestFor(vin.PackageNames()); err != nil {
		return nil, err
	}
	atts, err := ForImage(ctx, a.Signer, in)
	if err != nil {
		return nil, err
	}
	sigs, err := SignImages(ctx, a.Signer, img.Repository, subjects...)
	if err != nil {
		return nil, err
	}
	var out []store.Referrer
	for _, at := range atts {
		for _, s := range at.Subjects {
			ref, err := AttestationReferrer(s, at.PredicateType, at.Envelope)
			if err != nil {
				return nil, err
			}
			out = append(out, ref)
		}
	}
	for _, sg := range sigs {
		ref, err := SignatureReferrer(sg)
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
	}
	// Each entry names the key, so that a later build with another key
	// into this layout is refused (pipeline: signedKeys).
	id := a.Signer.KeyID()
	for i := range out {
		out[i].Annotations = maps.Clone(out[i].Annotations)
		if out[i].Annotations == nil {
			out[i].Annotations = map[string]string{}
		}
		out[i].Annotations[AnnotationKeyID] = id
	}
	return out, nil
}

// vexInput is what the OpenVEX document of a built image is made from: the
// packages each platform really has installed (the builder's list, else the
// platform's SBOM), whose advisories it states.
func (a *SigningAttacher) vexInput(img compile.Image, b Built) (vex.Input, error) {
	in := vex.Input{Repository: img.Repository, Digest: b.Image.Index.Digest.String(), Distro: img.Metadata.Distro, Timestamp: b.BuildDate}
	for _, p := range b.Image.Platforms {
		vp := vex.Platform{Platform: p.Platform}
		if p.Packages != nil {
			for _, q := range p.Packages {
				vp.Packages = append(vp.Packages, vex.Package{Name: q.Name, Version: q.Version, Arch: q.Arch})
			}
		} else {
			pkgs, err := inspect.SBOMPackages(p.SPDX)
			if err != nil {
				return vex.Input{}, fmt.Errorf("%s: vex: %w", p.Platform, err)
			}
			for _, q := range pkgs {
				vp.Packages = append(vp.Packages, vex.Package{Name: q.Name, Version: q.Version, Arch: apkArchOf(p.Platform)})
			}
		}
		in.Platforms = append(in.Platforms, vp)
	}
	return in, nil
}

// apkArchOf is the apk arch of a platform ("linux/arm64" -> "aarch64").
func apkArchOf(platform string) string {
	switch platform {
	case "linux/amd64":
		return "x86_64"
	case "linux/arm64":
		return "aarch64"
	}
	return ""
}
