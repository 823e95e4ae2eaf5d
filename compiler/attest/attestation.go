package attest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/vex"
)

// Attestation is one signed statement and the images it is stored with.
type Attestation struct {
	// PredicateType is the statement's predicate type.
	PredicateType string
	// Subjects are the images the statement is about; it is stored as a
	// referrer of each.
	Subjects []Subject
	// Statement is the statement's JSON, the envelope's payload.
	Statement []byte
	// Envelope is the DSSE envelope's JSON, what is stored and pushed (a
	// layer of cosign's .att image, the blob of a referrer).
	Envelope []byte
}

// Sign marshals st and signs it into a DSSE envelope. With a nil signer (an
// explicitly unsigned build) the envelope has no signatures; every verifier
// rejects it.
func Sign(ctx context.Context, s sign.Signer, st *Statement, subjects []Subject) (Attestation, error) {
	payload, err := st.Marshal()
	if err != nil {
		return Attestation{}, err
	}
	var env *sign.Envelope
	if s == nil {
		env = &sign.Envelope{
			PayloadType: sign.InTotoPayloadType,
			Payload:     base64.StdEncoding.EncodeToString(payload),
			Signatures:  []sign.Signature{},
		}
	} else {
		env, err = sign.SignStatement(ctx, s, payload)
		if err != nil {
			return Attestation{}, fmt.Errorf("sign %s: %w", st.PredicateType, err)
		}
	}
	b, err := json.Marshal(env)
	if err != nil {
		return Attestation{}, fmt.Errorf("marshal envelope %s: %w", st.PredicateType, err)
	}
	return Attestation{PredicateType: st.PredicateType, Subjects: subjects, Statement: payload, Envelope: b}, nil
}

// Image is a built image as the attestations need it.
type Image struct {
	// Index is the image index.
	Index Subject
	// IndexSPDX is apko's SPDX document of the index; nil writes no index SBOM.
	IndexSPDX []byte
	// Platforms are the platform images.
	Platforms []Platform
}

// Platform is one platform image of an index.
type Platform struct {
	// Platform is "os/arch[/variant]" ("linux/amd64").
	Platform string
	// Manifest is the platform's image manifest.
	Manifest Subject
	// SPDX is apko's SPDX document of this image.
	SPDX []byte
	// Packages are the packages installed in this image.
	Packages []Package
}

// ImageInput is everything the attestations of one image are made from.
type ImageInput struct {
	Image Image
	// Provenance's Subjects and Packages are filled from Image when empty.
	Provenance Provenance
	// Hardening's Subjects are filled from Image when empty.
	Hardening Hardening
	// Tool names hic in the CycloneDX metadata.
	Tool Tool
	// VEX is the image's OpenVEX document (compiler/vex); nil writes none.
	VEX *govex.VEX
}

// ForImage builds and signs all attestations of one image, in this order:
// provenance and hardening report (about the index and every platform
// manifest, stored with each), the OpenVEX document when in.VEX is set
// (likewise), then the SPDX and CycloneDX SBOMs of the index
// and of each platform (each about and stored with its own image).
func ForImage(ctx context.Context, s sign.Signer, in ImageInput) ([]Attestation, error) {
	all := []Subject{in.Image.Index}
	for _, p := range in.Image.Platforms {
		all = append(all, p.Manifest)
	}
	prov := in.Provenance
	if len(prov.Subjects) == 0 {
		prov.Subjects = all
	}
	if len(prov.Packages) == 0 {
		for _, p := range in.Image.Platforms {
			prov.Packages = append(prov.Packages, p.Packages...)
		}
	}
	hard := in.Hardening
	if len(hard.Subjects) == 0 {
		hard.Subjects = all
	}
	if hard.SpecRef == "" {
		hard.SpecRef = prov.SpecRef
	}

	type job struct {
		st       func() (*Statement, error)
		subjects []Subject
	}
	jobs := []job{
		{func() (*Statement, error) { return ProvenanceStatement(prov) }, prov.Subjects},
		{func() (*Statement, error) { return HardeningStatement(hard) }, hard.Subjects},
	}
	if in.VEX != nil {
		doc := in.VEX
		jobs = append(jobs, job{func() (*Statement, error) { return NewStatement(all, vex.PredicateType, doc) }, all})
	}
	sboms := func(subject Subject, spdx []byte) {
		subjects := []Subject{subject}
		jobs = append(jobs,
			job{func() (*Statement, error) { return SPDXStatement(subjects, spdx) }, subjects},
			job{func() (*Statement, error) { return CycloneDXStatement(subjects, spdx, in.Tool) }, subjects},
		)
	}
	if in.Image.IndexSPDX != nil {
		sboms(in.Image.Index, in.Image.IndexSPDX)
	}
	for _, p := range in.Image.Platforms {
		if p.SPDX == nil {
			return nil, fmt.Errorf("%s: platform %s has no SBOM", prov.SpecRef, p.Platform)
		}
		sboms(p.Manifest, p.SPDX)
	}

	out := make([]Attestation, 0, len(jobs))
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := j.st()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prov.SpecRef, err)
		}
		a, err := Sign(ctx, s, st, j.subjects)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prov.SpecRef, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Open verifies an attestation's envelope with v and returns its statement.
func Open(ctx context.Context, v *sign.Verifier, envelope []byte) (*Statement, error) {
	env, err := sign.ParseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	if env.PayloadType != sign.InTotoPayloadType {
		return nil, fmt.Errorf("envelope payloadType is %q, want %q", env.PayloadType, sign.InTotoPayloadType)
	}
	payload, err := sign.VerifyEnvelope(ctx, v, env)
	if err != nil {
		return nil, err
	}
	return ParseStatement(payload)
}
