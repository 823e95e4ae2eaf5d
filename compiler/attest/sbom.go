package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// SPDXStatement wraps an SPDX JSON document (apko's SBOM) as it is.
func SPDXStatement(subjects []Subject, spdx []byte) (*Statement, error) {
	if _, err := parseSPDX(spdx); err != nil {
		return nil, err
	}
	return NewStatement(subjects, PredicateSPDX, json.RawMessage(spdx))
}

// CycloneDXStatement converts an SPDX JSON document to CycloneDX (see
// CycloneDXFromSPDX) and wraps it in a statement.
func CycloneDXStatement(subjects []Subject, spdx []byte, tool Tool) (*Statement, error) {
	bom, err := CycloneDXFromSPDX(spdx, tool)
	if err != nil {
		return nil, err
	}
	return NewStatement(subjects, PredicateCycloneDX, json.RawMessage(bom))
}

// Tool names the program that converted the SBOM, recorded in the CycloneDX
// metadata.
type Tool struct {
	Name    string
	Version string
}

// spdxDoc is the part of an SPDX 2.3 JSON document the conversion reads.
type spdxDoc struct {
	SPDXID            string `json:"SPDXID"`
	Name              string `json:"name"`
	SPDXVersion       string `json:"spdxVersion"`
	DocumentNamespace string `json:"documentNamespace"`
	CreationInfo      struct {
		Created string `json:"created"`
	} `json:"creationInfo"`
	DocumentDescribes []string `json:"documentDescribes"`
	Packages          []struct {
		SPDXID           string `json:"SPDXID"`
		Name             string `json:"name"`
		VersionInfo      string `json:"versionInfo"`
		Supplier         string `json:"supplier"`
		Originator       string `json:"originator"`
		Description      string `json:"description"`
		LicenseDeclared  string `json:"licenseDeclared"`
		LicenseConcluded string `json:"licenseConcluded"`
		CopyrightText    string `json:"copyrightText"`
		PrimaryPurpose   string `json:"primaryPackagePurpose"`
		Checksums        []struct {
			Algorithm string `json:"algorithm"`
			Value     string `json:"checksumValue"`
		} `json:"checksums"`
		ExternalRefs []struct {
			Category string `json:"referenceCategory"`
			Type     string `json:"referenceType"`
			Locator  string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
	Relationships []struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	} `json:"relationships"`
}

func parseSPDX(data []byte) (*spdxDoc, error) {
	var d spdxDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse SPDX document: %w", err)
	}
	if !strings.HasPrefix(d.SPDXVersion, "SPDX-") {
		return nil, fmt.Errorf("parse SPDX document: spdxVersion is %q, want SPDX-2.x", d.SPDXVersion)
	}
	return &d, nil
}

// CycloneDXFromSPDX converts an SPDX 2.x JSON document to a CycloneDX 1.6
// JSON BOM. Each SPDX package becomes a component with its name, version,
// purl, licenses (the declared license, else the concluded one, as an SPDX
// expression; NOASSERTION and NONE are dropped), hashes, supplier and
// description, and the SPDX id as bom-ref. The package the document
// describes (the image) becomes metadata.component; packages with purpose
// OPERATING_SYSTEM become operating-system components, CONTAINER ones
// container components, all others libraries. DEPENDS_ON and CONTAINS
// relationships become dependencies. The timestamp is the SPDX creation
// time and the serial number a UUID derived from the SPDX bytes, so the
// conversion is deterministic.
func CycloneDXFromSPDX(spdx []byte, tool Tool) ([]byte, error) {
	d, err := parseSPDX(spdx)
	if err != nil {
		return nil, err
	}
	describes := map[string]bool{}
	for _, id := range d.DocumentDescribes {
		describes[id] = true
	}
	for _, r := range d.Relationships {
		if r.Element == d.SPDXID && r.Type == "DESCRIBES" {
			describes[r.Related] = true
		}
	}

	bom := cdx.NewBOM()
	bom.SerialNumber = serialNumber(spdx)
	meta := &cdx.Metadata{Timestamp: d.CreationInfo.Created}
	if tool.Name != "" {
		meta.Tools = &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: tool.Name, Version: tool.Version,
		}}}
	}
	bom.Metadata = meta

	known := map[string]bool{}
	var comps []cdx.Component
	for _, p := range d.Packages {
		c := cdx.Component{
			BOMRef:      p.SPDXID,
			Type:        componentType(p.PrimaryPurpose),
			Name:        p.Name,
			Version:     p.VersionInfo,
			Description: p.Description,
		}
		if s := spdxEntity(p.Supplier); s != "" {
			c.Supplier = &cdx.OrganizationalEntity{Name: s}
		}
		if lic := license(p.LicenseDeclared, p.LicenseConcluded); lic != "" {
			c.Licenses = &cdx.Licenses{{Expression: lic}}
		}
		if cr := p.CopyrightText; cr != "" && cr != "NOASSERTION" && cr != "NONE" {
			c.Copyright = cr
		}
		var hashes []cdx.Hash
		for _, cs := range p.Checksums {
			if alg, ok := hashAlgorithm(cs.Algorithm); ok {
				hashes = append(hashes, cdx.Hash{Algorithm: alg, Value: strings.ToLower(cs.Value)})
			}
		}
		if len(hashes) > 0 {
			c.Hashes = &hashes
		}
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" && c.PackageURL == "" {
				c.PackageURL = r.Locator
			}
		}
		known[p.SPDXID] = true
		if describes[p.SPDXID] && bom.Metadata.Component == nil {
			bom.Metadata.Component = &c
			continue
		}
		comps = append(comps, c)
	}
	bom.Components = &comps

	deps := map[string][]string{}
	for _, r := range d.Relationships {
		if (r.Type == "DEPENDS_ON" || r.Type == "CONTAINS") && known[r.Element] && known[r.Related] {
			deps[r.Element] = append(deps[r.Element], r.Related)
		}
	}
	if len(deps) > 0 {
		refs := make([]string, 0, len(deps))
		for ref := range deps {
			refs = append(refs, ref)
		}
		slices.Sort(refs)
		var list []cdx.Dependency
		for _, ref := range refs {
			on := slices.Compact(slices.Sorted(slices.Values(deps[ref])))
			list = append(list, cdx.Dependency{Ref: ref, Dependencies: &on})
		}
		bom.Dependencies = &list
	}

	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(false).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("encode CycloneDX BOM: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func componentType(purpose string) cdx.ComponentType {
	switch purpose {
	case "OPERATING_SYSTEM":
		return cdx.ComponentTypeOS
	case "CONTAINER":
		return cdx.ComponentTypeContainer
	case "APPLICATION":
		return cdx.ComponentTypeApplication
	case "FILE":
		return cdx.ComponentTypeFile
	case "FIRMWARE":
		return cdx.ComponentTypeFirmware
	}
	return cdx.ComponentTypeLibrary
}

func license(declared, concluded string) string {
	for _, l := range []string{declared, concluded} {
		if l != "" && l != "NOASSERTION" && l != "NONE" {
			return l
		}
	}
	return ""
}

// spdxEntity strips the "Organization: " or "Person: " prefix of an SPDX
// supplier or originator.
func spdxEntity(s string) string {
	if s == "" || s == "NOASSERTION" {
		return ""
	}
	for _, p := range []string{"Organization: ", "Person: ", "Tool: "} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}

func hashAlgorithm(spdx string) (cdx.HashAlgorithm, bool) {
	switch strings.ToUpper(spdx) {
	case "SHA1":
		return cdx.HashAlgoSHA1, true
	case "SHA256":
		return cdx.HashAlgoSHA256, true
	case "SHA384":
		return cdx.HashAlgoSHA384, true
	case "SHA512":
		return cdx.HashAlgoSHA512, true
	case "MD5":
		return cdx.HashAlgoMD5, true
	}
	return "", false
}

// serialNumber derives a version 5 style UUID URN from the SPDX bytes.
func serialNumber(spdx []byte) string {
	sum := sha256.Sum256(spdx)
	u := sum[:16]
	u[6] = (u[6] & 0x0f) | 0x50 // version 5 (name-based)
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
