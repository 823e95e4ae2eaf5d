package site

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/vex"
)

// built is what the layout holds of one spec.
type built struct {
	Index     string
	Platforms []platformDigest
	// Packages per platform, from the SPDX SBOM referrers.
	Packages map[string][]sbomPackage
	// Attestations are the predicate types of the signed statements, with
	// the subject each is stored with.
	Attestations []attestationRef
	Hardening    *attest.HardeningReport
	VEX          *govex.VEX
	// Damaged says, per blob of the layout that does not match its digest,
	// which one; nothing of such a blob is shown.
	Damaged []string
	// HardeningProblem and VEXProblem say why the hardening report or the
	// OpenVEX document is not shown although the image has one: its blob is
	// damaged, or its signature does not verify with the key.
	HardeningProblem, VEXProblem string
	// CompiledSpec is the compiled spec digest the image's provenance
	// records (internalParameters.compiledSpecDigest): the version of the
	// spec the image was built from. Empty: no readable provenance (an
	// unsigned build, or one whose signature does not verify with the key).
	CompiledSpec string
}

type platformDigest struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
}

type sbomPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	License string `json:"license,omitempty"`
}

type attestationRef struct {
	PredicateType string `json:"predicateType"`
	Subject       string `json:"subject"`
	Of            string `json:"of"` // "index" or the platform
	// Signature is sigVerified, sigNotChecked (no key given), or why the
	// envelope was not verified with the key.
	Signature string `json:"signature"`
}

// Signature states of an attestation.
const (
	sigVerified   = "verified"
	sigNotChecked = "not checked"
)

// damagedBlob is what the site says of a blob that does not match its digest.
func damagedBlob(h v1.Hash) string {
	return fmt.Sprintf("damaged: blob %s does not match its digest — run hic verify", h)
}

// readLayout reads the images and referrers of an OCI layout, by spec ref.
// A missing layout is no error: the site then shows the catalog only. Every
// blob read is checked against its digest: a damaged one is listed in its
// spec's Damaged, and nothing of it is used. With a verifier, every
// attestation's envelope is verified with it, and the hardening report and
// the OpenVEX document are shown only from a verified envelope; without one,
// they are shown as stored, their signatures not checked.
func readLayout(ctx context.Context, dir string, verifier *sign.Verifier) (map[string]*built, error) {
	out := map[string]*built{}
	if dir == "" {
		return out, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("site: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("site: %s: %w", filepath.Join(dir, "index.json"), err)
	}
	// blob reads a blob of bi's; ok is false when it is missing or damaged.
	blob := func(bi *built, h v1.Hash) (data []byte, ok bool, damaged string) {
		data, err := os.ReadFile(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
		if err != nil {
			return nil, false, ""
		}
		if got, _, err := v1.SHA256(bytes.NewReader(data)); err != nil || got != h {
			msg := damagedBlob(h)
			bi.Damaged = append(bi.Damaged, msg)
			return nil, false, msg
		}
		return data, true, ""
	}
	of := map[string]string{} // digest -> "index" or platform, per spec
	for _, d := range idx.Manifests {
		ref := d.Annotations[store.AnnotationSpecRef]
		if ref == "" || !d.MediaType.IsIndex() {
			continue
		}
		if _, seen := out[ref]; seen {
			continue
		}
		bi := &built{Index: d.Digest.String(), Packages: map[string][]sbomPackage{}}
		of[d.Digest.String()] = "index"
		if raw, ok, _ := blob(bi, d.Digest); ok {
			var im v1.IndexManifest
			if json.Unmarshal(raw, &im) == nil {
				for _, m := range im.Manifests {
					if m.Platform != nil {
						p := m.Platform.OS + "/" + m.Platform.Architecture
						bi.Platforms = append(bi.Platforms, platformDigest{p, m.Digest.String()})
						of[m.Digest.String()] = p
					}
				}
			}
		}
		sort.Slice(bi.Platforms, func(i, j int) bool { return bi.Platforms[i].Platform < bi.Platforms[j].Platform })
		out[ref] = bi
	}
	for _, d := range idx.Manifests {
		ref := d.Annotations[store.AnnotationSpecRef]
		bi := out[ref]
		if bi == nil || d.MediaType.IsIndex() || d.ArtifactType == "" {
			continue
		}
		raw, ok, _ := blob(bi, d.Digest)
		if !ok {
			continue
		}
		var m v1.Manifest
		if json.Unmarshal(raw, &m) != nil || m.Subject == nil || len(m.Layers) == 0 {
			continue
		}
		subject := m.Subject.Digest.String()
		where, ok := of[subject]
		if !ok {
			continue // about an image of another build of the spec
		}
		switch d.ArtifactType {
		case "application/spdx+json":
			if where == "index" {
				continue
			}
			if data, ok, _ := blob(bi, m.Layers[0].Digest); ok {
				bi.Packages[where] = spdxPackages(data)
			}
		case "application/vnd.in-toto+json":
			pt := d.Annotations[attest.AnnotationPredicateType]
			shown := where == "index" && (pt == attest.PredicateHardening || pt == vex.PredicateType)
			// The index's provenance says which compiled spec it was built from.
			prov := where == "index" && pt == attest.PredicateSLSAProvenance
			a := attestationRef{PredicateType: pt, Subject: subject, Of: where, Signature: sigNotChecked}
			var pred json.RawMessage
			problem := ""
			if shown || prov || verifier != nil {
				env, ok, damaged := blob(bi, m.Layers[0].Digest)
				switch {
				case damaged != "":
					a.Signature, problem = damaged, damaged
				case !ok:
					a.Signature = "envelope missing"
				default:
					pred, problem = statementOf(ctx, verifier, env, pt, m.Subject.Digest)
					if verifier != nil {
						a.Signature = sigVerified
						if problem != "" {
							a.Signature = problem
						}
					}
				}
			}
			bi.Attestations = append(bi.Attestations, a)
			if prov && pred != nil && problem == "" {
				var p attest.ProvenancePredicate
				if json.Unmarshal(pred, &p) == nil {
					bi.CompiledSpec = p.BuildDefinition.InternalParameters.CompiledSpecDigest
				}
			}
			if !shown || pred == nil && problem == "" {
				continue
			}
			switch pt {
			case attest.PredicateHardening:
				var h attest.HardeningReport
				if problem != "" {
					bi.HardeningProblem = problem
				} else if json.Unmarshal(pred, &h) == nil {
					bi.Hardening = &h
				}
			case vex.PredicateType:
				if problem != "" {
					bi.VEXProblem = problem
				} else if doc, err := govex.Parse(pred); err == nil {
					bi.VEX = doc
				}
			}
		}
	}
	for _, bi := range out {
		sort.Slice(bi.Attestations, func(i, j int) bool {
			a, b := bi.Attestations[i], bi.Attestations[j]
			if a.Of != b.Of {
				return a.Of == "index" || (b.Of != "index" && a.Of < b.Of)
			}
			return a.PredicateType < b.PredicateType
		})
	}
	return out, nil
}

// statementOf returns the predicate of a DSSE envelope's in-toto statement
// of predicate type pt: verified with v (as hic attestations does) when v is
// set, else as stored. problem says why there is none when the envelope does
// not verify, or its statement is of another predicate type or not about the
// subject its manifest names.
func statementOf(ctx context.Context, v *sign.Verifier, envelope []byte, pt string, subject v1.Hash) (pred json.RawMessage, problem string) {
	var st *attest.Statement
	if v != nil {
		s, err := attest.Open(ctx, v, envelope)
		if err != nil {
			return nil, fmt.Sprintf("signature does not verify with the key (%v) — run hic verify", err)
		}
		st = s
	} else {
		env, err := sign.ParseEnvelope(envelope)
		if err != nil {
			return nil, ""
		}
		payload, err := env.DecodeB64Payload()
		if err != nil {
			return nil, ""
		}
		if st, err = attest.ParseStatement(payload); err != nil {
			return nil, ""
		}
	}
	if st.PredicateType != pt {
		return nil, fmt.Sprintf("the statement's predicate type is %s, not the %s its manifest says — run hic verify", st.PredicateType, pt)
	}
	for _, s := range st.Subject {
		if s.Digest[subject.Algorithm] == subject.Hex {
			return st.Predicate, ""
		}
	}
	return nil, fmt.Sprintf("the statement is not about %s, the image its manifest names — run hic verify", subject)
}

// spdxPackages lists the apk packages of an SPDX document with their licenses.
func spdxPackages(b []byte) []sbomPackage {
	var doc struct {
		Packages []struct {
			Name             string `json:"name"`
			VersionInfo      string `json:"versionInfo"`
			LicenseDeclared  string `json:"licenseDeclared"`
			LicenseConcluded string `json:"licenseConcluded"`
			ExternalRefs     []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return nil
	}
	var out []sbomPackage
	for _, p := range doc.Packages {
		isAPK := false
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" && len(r.Locator) > 8 && r.Locator[:8] == "pkg:apk/" {
				isAPK = true
			}
		}
		if !isAPK {
			continue
		}
		lic := p.LicenseDeclared
		if lic == "" || lic == "NOASSERTION" {
			lic = p.LicenseConcluded
		}
		out = append(out, sbomPackage{Name: p.Name, Version: p.VersionInfo, License: lic})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
