package build

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"chainguard.dev/apko/pkg/apk/apk"
	"github.com/package-url/packageurl-go"
)

// apkoNamespace is the documentNamespace apko (v0.30) writes into every SPDX
// document; SPDX requires a namespace unique to each document.
const apkoNamespace = "https://spdx.org/spdxdocs/apko/"

// namespaceBase is where hic's SPDX document namespaces start.
const namespaceBase = "https://spdx.org/spdxdocs/hic/"

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// completeSBOM adds to apko's SPDX document of an image every installed
// package it does not list yet, as a package with an apk purl contained by
// the image. apko (v0.30) lists only packages that ship their own SBOM in
// /var/lib/db/sbom, so packages of most distributions would be missing.
// Every apk purl gets the distro qualifier and the document a namespace of
// its own (apko writes one constant namespace and no distro), and the
// apko creator the apko version linked in (see nameApko).
// The output is deterministic: JSON objects with sorted keys, packages in
// installation order.
func completeSBOM(doc []byte, installed []*apk.Package, arch string) ([]byte, error) {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read apko's SBOM: %w", err)
	}
	pkgs, _ := d["packages"].([]any)
	rels, _ := d["relationships"].([]any)

	type nv struct{ name, version string }
	listed := map[nv]bool{}
	ids := map[string]bool{}
	osID, osVersion, supplier := "unknown", "", "NOASSERTION"
	for _, p := range pkgs {
		m, ok := p.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		version, _ := m["versionInfo"].(string)
		listed[nv{name, version}] = true
		if id, ok := m["SPDXID"].(string); ok {
			ids[id] = true
		}
		if m["primaryPackagePurpose"] == "OPERATING_SYSTEM" {
			osID, osVersion = name, version
			if s, ok := m["supplier"].(string); ok {
				supplier = s
			}
		}
	}
	subject := "SPDXRef-DOCUMENT"
	if describes, ok := d["documentDescribes"].([]any); ok && len(describes) > 0 {
		if s, ok := describes[0].(string); ok {
			subject = s
		}
	}

	for _, p := range installed {
		if listed[nv{p.Name, p.Version}] {
			continue
		}
		id := "SPDXRef-Package-" + spdxIDUnsafe.ReplaceAllString(p.Name+"-"+p.Version, "-")
		for base, i := id, 2; ids[id]; i++ {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		ids[id] = true
		license := p.License
		if license == "" {
			license = "NOASSERTION"
		}
		purl := fmt.Sprintf("pkg:apk/%s/%s@%s?arch=%s", url.PathEscape(osID), url.PathEscape(p.Name), url.PathEscape(p.Version), url.QueryEscape(arch))
		pkg := map[string]any{
			"SPDXID":           id,
			"name":             p.Name,
			"versionInfo":      p.Version,
			"filesAnalyzed":    false,
			"licenseConcluded": "NOASSERTION",
			"licenseDeclared":  license,
			"downloadLocation": "NOASSERTION",
			"copyrightText":    "NOASSERTION",
			"supplier":         supplier,
			"externalRefs": []any{map[string]any{
				"referenceCategory": "PACKAGE-MANAGER",
				"referenceType":     "purl",
				"referenceLocator":  purl,
			}},
		}
		if p.Origin != "" && p.Origin != p.Name {
			pkg["sourceInfo"] = "built from origin package " + p.Origin
		}
		pkgs = append(pkgs, pkg)
		rels = append(rels, map[string]any{
			"spdxElementId":      subject,
			"relationshipType":   "CONTAINS",
			"relatedSpdxElement": id,
		})
		listed[nv{p.Name, p.Version}] = true
	}
	if osVersion != "" {
		distro := osID + "-" + osVersion
		for _, p := range pkgs {
			if m, ok := p.(map[string]any); ok {
				addDistroQualifier(m, distro)
			}
		}
	}
	d["packages"] = pkgs
	d["relationships"] = rels
	nameApko(d, ApkoVersion())
	return uniqueNamespace(d)
}

// nameApko makes the document's "Tool: apko (…)" creator name the apko
// version linked in. apko (v0.30) writes its version as the version of the
// main module of the binary it is part of: hic's, "(devel)" in a build
// from a checkout, while the provenance names apko's.
func nameApko(d map[string]any, version string) {
	ci, _ := d["creationInfo"].(map[string]any)
	creators, _ := ci["creators"].([]any)
	for i, c := range creators {
		if s, ok := c.(string); ok && strings.HasPrefix(s, "Tool: apko (") && strings.HasSuffix(s, ")") {
			creators[i] = "Tool: apko (" + version + ")"
		}
	}
}

// addDistroQualifier adds distro=ID-VERSION to the apk purls of an SPDX
// package that have none, as syft writes them: syft and grype read the
// distribution of an SPDX SBOM from this qualifier.
func addDistroQualifier(pkg map[string]any, distro string) {
	refs, _ := pkg["externalRefs"].([]any)
	for _, r := range refs {
		ref, ok := r.(map[string]any)
		if !ok || ref["referenceType"] != "purl" {
			continue
		}
		loc, _ := ref["referenceLocator"].(string)
		if !strings.HasPrefix(loc, "pkg:apk/") {
			continue
		}
		purl, err := packageurl.FromString(loc)
		if err != nil {
			continue
		}
		if _, ok := purl.Qualifiers.Map()["distro"]; ok {
			continue
		}
		q := purl.Qualifiers.Map()
		q["distro"] = distro
		purl.Qualifiers = packageurl.QualifiersFromMap(q)
		ref["referenceLocator"] = purl.ToString()
	}
}

// uniqueNamespace replaces apko's constant documentNamespace with one
// unique to the document, NAMESPACE_BASE/NAME-UUID, the UUID derived from
// the document's content (so the same image gives the same namespace), and
// returns the document as indented JSON with sorted keys.
func uniqueNamespace(d map[string]any) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("write SBOM: %w", err)
	}
	if ns, _ := d["documentNamespace"].(string); ns == "" || ns == apkoNamespace {
		name, _ := d["name"].(string)
		name = spdxIDUnsafe.ReplaceAllString(name, "-")
		sum := sha256.Sum256(b)
		u := sum[:16]
		u[6] = (u[6] & 0x0f) | 0x50 // version 5 (name-based)
		u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
		d["documentNamespace"] = fmt.Sprintf("%s%s-%x-%x-%x-%x-%x", namespaceBase, name, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	}
	b, err = json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("write SBOM: %w", err)
	}
	return append(b, '\n'), nil
}

// finishIndexSBOM gives apko's SPDX document of an image index a unique
// namespace (see uniqueNamespace) and the apko version as creator (see
// nameApko).
func finishIndexSBOM(doc []byte) ([]byte, error) {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read apko's index SBOM: %w", err)
	}
	nameApko(d, ApkoVersion())
	return uniqueNamespace(d)
}
