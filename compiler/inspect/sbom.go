package inspect

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// SBOMPackages returns the apk packages an SPDX 2.x JSON SBOM lists: every
// package with a "pkg:apk/..." package URL, named and versioned as the URL
// says. Duplicates are dropped; the result is sorted by name.
func SBOMPackages(spdxJSON []byte) ([]Package, error) {
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name         string `json:"name"`
			Version      string `json:"versionInfo"`
			ExternalRefs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(spdxJSON, &doc); err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	if !strings.HasPrefix(doc.SPDXVersion, "SPDX-") {
		return nil, fmt.Errorf("sbom: not an SPDX document (spdxVersion %q)", doc.SPDXVersion)
	}
	seen := map[Package]bool{}
	var out []Package
	for _, p := range doc.Packages {
		for _, r := range p.ExternalRefs {
			if r.Type != "purl" {
				continue
			}
			pkg, ok := parseAPKPurl(r.Locator)
			// The purl spec lowercases apk names ("R" is pkg:apk/wolfi/r);
			// the package's own name keeps its case.
			if ok && pkg.Name != p.Name && strings.EqualFold(pkg.Name, p.Name) {
				pkg.Name = p.Name
			}
			if !ok || seen[pkg] {
				continue
			}
			seen[pkg] = true
			out = append(out, pkg)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// parseAPKPurl reads pkg:apk/<namespace>/<name>@<version>?<qualifiers>.
func parseAPKPurl(s string) (Package, bool) {
	rest, ok := strings.CutPrefix(s, "pkg:apk/")
	if !ok {
		return Package{}, false
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	rest, version, _ := strings.Cut(rest, "@")
	name := rest[strings.LastIndex(rest, "/")+1:]
	name, err := url.PathUnescape(name)
	if err != nil || name == "" {
		return Package{}, false
	}
	if v, err := url.PathUnescape(version); err == nil {
		version = v
	}
	return Package{Name: name, Version: version}, true
}
