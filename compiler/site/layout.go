package site

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/attest"
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
}

// readLayout reads the images and referrers of an OCI layout, by spec ref.
// A missing layout is no error: the site then shows the catalog only.
func readLayout(dir string) (map[string]*built, error) {
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
	blob := func(h v1.Hash) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
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
		if raw, err := blob(d.Digest); err == nil {
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
		raw, err := blob(d.Digest)
		if err != nil {
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
			data, err := blob(m.Layers[0].Digest)
			if err == nil {
				bi.Packages[where] = spdxPackages(data)
			}
		case "application/vnd.in-toto+json":
			pt := d.Annotations[attest.AnnotationPredicateType]
			bi.Attestations = append(bi.Attestations, attestationRef{PredicateType: pt, Subject: subject, Of: where})
			if where != "index" || (pt != attest.PredicateHardening && pt != vex.PredicateType) {
				continue
			}
			env, err := blob(m.Layers[0].Digest)
			if err != nil {
				continue
			}
			pred := predicate(env)
			switch pt {
			case attest.PredicateHardening:
				var h attest.HardeningReport
				if json.Unmarshal(pred, &h) == nil {
					bi.Hardening = &h
				}
			case vex.PredicateType:
				if doc, err := govex.Parse(pred); err == nil {
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

// predicate returns the predicate of a DSSE envelope's in-toto statement,
// unverified: the site shows what is stored and how to verify it.
func predicate(envelope []byte) json.RawMessage {
	var env struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(envelope, &env) != nil {
		return nil
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil
	}
	var st struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if json.Unmarshal(payload, &st) != nil {
		return nil
	}
	return st.Predicate
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
