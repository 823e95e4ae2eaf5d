package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/vex"
)

// Attestation types by their short names, as hic attestations --type takes
// them, with the file extension of the document a statement carries.
var attestationTypes = []struct {
	name, predicateType, document string
}{
	{"provenance", attest.PredicateSLSAProvenance, ""},
	{"spdx", attest.PredicateSPDX, ".spdx.json"},
	{"cyclonedx", attest.PredicateCycloneDX, ".cdx.json"},
	{"hardening", attest.PredicateHardening, ".hardening.json"},
	{"vex", vex.PredicateType, ".openvex.json"},
}

// AttestationTypes are the short type names Attestations accepts.
func AttestationTypes() []string {
	var out []string
	for _, t := range attestationTypes {
		out = append(out, t.name)
	}
	return out
}

// ErrUnknownType is returned (wrapped) for an AttestationsOptions.Types
// entry that names no type.
var ErrUnknownType = errors.New("unknown attestation type")

// ErrNoAttestations is returned (wrapped) for an image that has no
// attestation at all, on the index or any platform manifest: an unsigned
// image (no signature either), as hic verify calls it, or one signed but
// not attested. As cosign verify-attestation, that is a failure: nothing
// was verified.
var ErrNoAttestations = errors.New("no attestations")

// Attestation is one attestation stored for an image or one of its platform
// manifests.
type Attestation struct {
	// Subject is the digest it is attached to, Platform "index" or the
	// platform manifest's platform ("linux/amd64").
	Subject  string `json:"subject"`
	Platform string `json:"platform"`
	// Type is the short type name (provenance, spdx, cyclonedx, hardening,
	// vex) or, for another predicate type, the predicate type.
	Type          string `json:"type"`
	PredicateType string `json:"predicateType,omitempty"`
	// Where says where it was found (a referrer, cosign's .att tag).
	Where string `json:"where"`
	// Statement and Document are the files written (AttestationsOptions.Dir):
	// the verified in-toto statement, and the SBOM, hardening report or
	// OpenVEX document it carries.
	Statement string `json:"statement,omitempty"`
	Document  string `json:"document,omitempty"`
	// Error says why the attestation was refused: its envelope does not
	// verify with the key, or its statement is about another image. A
	// refused attestation is listed but not written.
	Error string `json:"error,omitempty"`
}

// AttestationsOptions configure Attestations.
type AttestationsOptions struct {
	// Verifier holds the public key every envelope must verify with. Required.
	Verifier *sign.Verifier
	// Types keeps only these types (short names from AttestationTypes or
	// predicate types); empty: all.
	Types []string
	// Dir, if set, is where the verified statements and their documents
	// are written, named PLATFORM.TYPE.intoto.json and PLATFORM.EXT
	// (index.provenance.intoto.json, linux-amd64.spdx.json,
	// linux-amd64.cdx.json, index.openvex.json, index.hardening.json).
	Dir string
}

// Attestations lists the attestations stored for the image ref names in
// src, the index's and every platform manifest's, opens each with the key
// and, with Dir, writes the verified ones as files. The error is for an
// image that cannot be found or read, a bad type or a file that cannot be
// written; an attestation that does not verify is in the list with Error set.
func Attestations(ctx context.Context, src Source, ref string, opts AttestationsOptions) ([]Attestation, error) {
	if opts.Verifier == nil {
		return nil, errors.New("attestations: no public key")
	}
	want := map[string]bool{}
	for _, t := range opts.Types {
		pt, ok := predicateTypeOf(t)
		if !ok {
			return nil, fmt.Errorf("%w %q: want one of %s, or a predicate type URI", ErrUnknownType, t, strings.Join(AttestationTypes(), ", "))
		}
		want[pt] = true
	}
	t, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if t.damaged != nil {
		return nil, fmt.Errorf("%s: %w", ref, t.damaged)
	}
	im, err := t.Index.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	type subject struct {
		digest   v1.Hash
		platform string
	}
	subjects := []subject{{t.Digest, "index"}}
	for _, m := range im.Manifests {
		if m.Platform == nil {
			continue
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			p += "/" + m.Platform.Variant
		}
		subjects = append(subjects, subject{m.Digest, p})
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	var out []Attestation
	// The verified statements are written once they are known to be the
	// image's that ref names (ownSubject), not another's a moved tag
	// points at.
	type verified struct {
		i       int
		payload []byte
		st      *attest.Statement
	}
	var pending []verified
	names := map[string]bool{} // the index's subject names, over the statements attached to it
	found := 0
	for _, s := range subjects {
		envs, err := src.Attestations(ctx, s.digest)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", s.platform, short(s.digest), err)
		}
		found += len(envs)
		seen := map[[32]byte]bool{}
		for _, e := range envs {
			a := Attestation{Subject: s.digest.String(), Platform: s.platform, Where: e.Where}
			if e.Err != nil {
				a.Type, a.Error = "?", e.Err.Error()
				out = append(out, a)
				continue
			}
			sum := sha256.Sum256(e.Data)
			if seen[sum] {
				continue // the same envelope as a referrer and under the .att tag
			}
			seen[sum] = true
			payload, st, err := open(ctx, opts.Verifier, e.Data)
			if err != nil {
				a.Type, a.PredicateType = envelopeType(e.Data)
				if len(want) > 0 && !want[a.PredicateType] {
					continue
				}
				if errors.Is(err, sign.ErrBadSignature) {
					err = fmt.Errorf("not signed by key %s", short16(opts.Verifier.KeyID()))
				}
				a.Error = err.Error()
				out = append(out, a)
				continue
			}
			a.Type, a.PredicateType = typeName(st.PredicateType), st.PredicateType
			if len(want) > 0 && !want[st.PredicateType] {
				continue
			}
			if !slices.Contains(st.SubjectDigests(), s.digest) {
				a.Error = fmt.Sprintf("the statement is about %s, not the %s it is attached to", shortAll(st.SubjectDigests()), s.platform)
				out = append(out, a)
				continue
			}
			if s.platform == "index" {
				for _, rd := range st.Subject {
					if rd.Name != "" && rd.Digest[s.digest.Algorithm] == s.digest.Hex {
						names[rd.Name] = true
					}
				}
			}
			pending = append(pending, verified{len(out), payload, st})
			out = append(out, a)
		}
	}
	if found == 0 {
		return nil, noAttestations(ctx, src, t, ref, len(subjects)-1)
	}
	if err := ownSubject(t, ref, names); err != nil {
		return nil, err
	}
	if opts.Dir != "" {
		used := map[string]bool{} // file names written
		for _, p := range pending {
			if err := writeAttestation(opts.Dir, &out[p.i], p.payload, p.st, used); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return typeRank(out[i].Type) < typeRank(out[j].Type) })
	return out, nil
}

// ErrOtherImage is returned (wrapped) when the signed statements of the
// image a ref names are about an image of another repository: a tag moved
// to another image, signatures and all.
var ErrOtherImage = errors.New("the statements are another image's")

// ownSubject checks that the statements verified on the index name it as
// the repository ref names (names: the index's subject names), as hic
// verify's tag check does for the signatures. A ref of no repository (a
// digest in a layout) is not checked.
func ownSubject(t *Target, ref string, names map[string]bool) error {
	if t.Repository == "" || len(names) == 0 {
		return nil
	}
	var other []string
	for n := range names {
		if !sameRepo(t.Repository, n) {
			other = append(other, n)
		}
	}
	if len(other) == 0 {
		return nil
	}
	sort.Strings(other)
	return fmt.Errorf("%s: %w: they are about the image of %s, not of %s, so %s points at another repository's image; nothing was written (hic verify %s checks the tag)",
		ref, ErrOtherImage, strings.Join(other, ", "), t.Repository, ref, ref)
}

// noAttestations is the error for an image with no attestation, worded as
// hic verify's image-signature check words it: unsigned when it carries no
// signature either.
func noAttestations(ctx context.Context, src Source, t *Target, ref string, plats int) error {
	subjects := []v1.Hash{t.Digest}
	if im, err := t.Index.IndexManifest(); err == nil {
		for _, m := range im.Manifests {
			subjects = append(subjects, m.Digest)
		}
	}
	for _, h := range subjects {
		if sigs, err := src.Signatures(ctx, h); err != nil || len(sigs) > 0 {
			return fmt.Errorf("%s: %w: its image signatures are not attestations, and %s any", ref, ErrNoAttestations, carryNone(plats))
		}
	}
	return fmt.Errorf("%s: %w: the image is unsigned: %s any signature or attestation%s", ref, ErrNoAttestations, carryNone(plats), unsignedWhy(src, t))
}

// unsignedWhy says why an image may carry no signature and no attestation
// where src holds it: a rejected image is stored unsigned; in a registry,
// its signatures may just not have been pushed to this repository (a tag
// copied from another repository leaves them behind).
func unsignedWhy(src Source, t *Target) string {
	switch _, registry := src.(*Registry); {
	case t.rejectedSpec != "":
		return fmt.Sprintf(": the image of %s failed a post-build check, and such an image is stored unsigned; the build's report has its findings", t.rejectedSpec)
	case registry:
		return fmt.Sprintf(": hic build --unsigned makes such images, or its signatures and attestations were not pushed to %s (a tag copied from another repository leaves them behind; hic publish pushes them)", t.Repository)
	}
	return " (hic build --unsigned makes such images)"
}

// writeAttestation writes a verified statement and its document to dir.
func writeAttestation(dir string, a *Attestation, payload []byte, st *attest.Statement, used map[string]bool) error {
	base := strings.ReplaceAll(a.Platform, "/", "-")
	name := func(suffix string) string {
		n := base + suffix
		for i := 2; used[n]; i++ {
			n = fmt.Sprintf("%s-%d%s", base, i, suffix)
		}
		used[n] = true
		return filepath.Join(dir, n)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, payload, "", "  "); err != nil {
		return err
	}
	short := a.Type
	if !strings.Contains(short, "://") {
		a.Statement = name("." + short + ".intoto.json")
	} else {
		a.Statement = name(".intoto.json")
	}
	if err := os.WriteFile(a.Statement, append(b.Bytes(), '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", a.Statement, err)
	}
	for _, t := range attestationTypes {
		if t.predicateType != st.PredicateType || t.document == "" {
			continue
		}
		a.Document = name(t.document)
		if err := os.WriteFile(a.Document, append(append([]byte(nil), st.Predicate...), '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", a.Document, err)
		}
	}
	return nil
}

// open verifies an envelope with the key (as attest.Open) and returns the
// signed payload as well as its statement.
func open(ctx context.Context, v *sign.Verifier, data []byte) ([]byte, *attest.Statement, error) {
	env, err := sign.ParseEnvelope(data)
	if err != nil {
		return nil, nil, err
	}
	if env.PayloadType != sign.InTotoPayloadType {
		return nil, nil, fmt.Errorf("envelope payloadType is %q, want %q", env.PayloadType, sign.InTotoPayloadType)
	}
	payload, err := sign.VerifyEnvelope(ctx, v, env)
	if err != nil {
		return nil, nil, err
	}
	st, err := attest.ParseStatement(payload)
	return payload, st, err
}

// predicateTypeOf maps a short type name (or a predicate type) to the
// predicate type.
func predicateTypeOf(t string) (string, bool) {
	for _, x := range attestationTypes {
		if t == x.name || t == x.predicateType {
			return x.predicateType, true
		}
	}
	return t, strings.Contains(t, "://")
}

// typeName is the short name of a predicate type, else the type itself.
func typeName(pt string) string {
	for _, x := range attestationTypes {
		if pt == x.predicateType {
			return x.name
		}
	}
	return pt
}

// typeRank orders the listing by type as attestationTypes lists them.
func typeRank(name string) int {
	for i, x := range attestationTypes {
		if name == x.name {
			return i
		}
	}
	return len(attestationTypes)
}

// envelopeType reads the predicate type an unverified envelope claims, for
// listing and filtering only ("?" when it cannot be read).
func envelopeType(data []byte) (name, predicateType string) {
	env, err := sign.ParseEnvelope(data)
	if err != nil {
		return "?", ""
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return "?", ""
	}
	st, err := attest.ParseStatement(payload)
	if err != nil {
		return "?", ""
	}
	return typeName(st.PredicateType), st.PredicateType
}
