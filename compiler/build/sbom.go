package build

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"

	"chainguard.dev/apko/pkg/apk/apk"
)

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// completeSBOM adds to apko's SPDX document of an image every installed
// package it does not list yet, as a package with an apk purl contained by
// the image. apko (v0.30) lists only packages that ship their own SBOM in
// /var/lib/db/sbom, so packages of most distributions would be missing.
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
	osID, supplier := "unknown", "NOASSERTION"
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
			osID = name
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
	d["packages"] = pkgs
	d["relationships"] = rels
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("write SBOM: %w", err)
	}
	return append(b, '\n'), nil
}
