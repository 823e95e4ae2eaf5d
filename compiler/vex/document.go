package vex

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hic-build/hic/compiler/apkversion"
	govex "github.com/openvex/go-vex/pkg/vex"
	"github.com/package-url/packageurl-go"
)

// PredicateType is the in-toto predicate type of an OpenVEX document.
const PredicateType = "https://openvex.dev/ns/v0.2.0"

// Author is the author of every document hic writes.
const Author = "hic catalog"

// Package is one package installed in a platform image.
type Package struct {
	Name    string
	Version string
	Arch    string
}

// Platform is the packages of one platform image.
type Platform struct {
	Platform string
	Packages []Package
}

// Input is the image a document is about.
type Input struct {
	// Repository names the image ("nginx"); Digest is its index digest.
	Repository string
	Digest     string
	// Distro is the purl namespace of the packages ("wolfi", "alpine").
	Distro string
	// Platforms are the packages the image really contains, per platform
	// (read from the built image, never from the spec).
	Platforms []Platform
	// Timestamp is the image's build date. The document's issue time is
	// the later of it and the last time one of its statements was made or
	// changed (published, updated): never before what it states, and the
	// same on a rebuild.
	Timestamp time.Time
}

// PackageNames returns the names of the packages of every platform of in,
// sorted, each once: those whose advisories Document states.
func (in Input) PackageNames() []string {
	var names []string
	for _, p := range in.Platforms {
		for _, pkg := range p.Packages {
			names = append(names, pkg.Name)
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// Document returns the OpenVEX document of one image: a statement for each
// advisory whose package the image contains, about the image (a pkg:oci
// purl with its index digest) with the package as subcomponent (a pkg:apk
// purl per platform arch). A fixed advisory is "fixed" for an installed
// version at or after the fixed one and "affected" (upgrade) before it. An
// image none of whose packages has an advisory gets a document with no
// statements, which says just that.
func Document(adv *Advisories, in Input) (*govex.VEX, error) {
	if in.Repository == "" || in.Digest == "" {
		return nil, errors.New("vex: image repository and digest are required")
	}
	product, err := imagePurl(in.Repository, in.Digest)
	if err != nil {
		return nil, err
	}
	type key struct {
		a      *Advisory
		status govex.Status
	}
	subs := map[key][]string{}
	var order []key
	for _, p := range in.Platforms {
		for _, pkg := range p.Packages {
			for _, a := range adv.For(pkg.Name) {
				st, err := statusFor(a, pkg.Version)
				if err != nil {
					return nil, fmt.Errorf("vex: %s %s: %w", pkg.Name, a.ID, err)
				}
				k := key{a, st}
				purl := packagePurl(in.Distro, pkg)
				if _, ok := subs[k]; !ok {
					order = append(order, k)
				}
				if !contains(subs[k], purl) {
					subs[k] = append(subs[k], purl)
				}
			}
		}
	}
	ts := in.Timestamp.UTC()
	for _, k := range order {
		for _, t := range []time.Time{k.a.Published, k.a.Updated} {
			if t.After(ts) {
				ts = t.UTC()
			}
		}
	}
	doc := &govex.VEX{
		Metadata: govex.Metadata{
			Context:   govex.ContextLocator(),
			Author:    Author,
			Timestamp: &ts,
			Version:   1,
			Tooling:   "hic",
		},
		Statements: []govex.Statement{},
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].a.ID != order[j].a.ID {
			return order[i].a.ID < order[j].a.ID
		}
		return order[i].a.Package < order[j].a.Package
	})
	for _, k := range order {
		a := k.a
		sort.Strings(subs[k])
		prod := govex.Product{Component: govex.Component{ID: product}}
		for _, s := range subs[k] {
			prod.Subcomponents = append(prod.Subcomponents, govex.Subcomponent{Component: govex.Component{ID: s}})
		}
		pub := a.Published
		st := govex.Statement{
			Vulnerability: govex.Vulnerability{Name: govex.VulnerabilityID(a.ID)},
			Timestamp:     &pub,
			Products:      []govex.Product{prod},
			Status:        k.status,
		}
		for _, al := range a.Aliases {
			st.Vulnerability.Aliases = append(st.Vulnerability.Aliases, govex.VulnerabilityID(al))
		}
		if !a.Updated.IsZero() {
			u := a.Updated
			st.LastUpdated = &u
		}
		switch k.status {
		case govex.StatusNotAffected:
			st.Justification = govex.Justification(a.Justification)
			st.ImpactStatement = a.Impact
		case govex.StatusAffected:
			st.ActionStatement = a.Action
			if a.Status == string(govex.StatusFixed) {
				st.ActionStatement = fmt.Sprintf("upgrade %s to %s or later", a.Package, a.Fixed)
				st.StatusNotes = fmt.Sprintf("fixed in %s %s; this image has an older version", a.Package, a.Fixed)
			}
		case govex.StatusFixed:
			st.StatusNotes = fmt.Sprintf("fixed in %s %s", a.Package, a.Fixed)
		}
		if err := st.Validate(); err != nil {
			return nil, fmt.Errorf("vex: %s %s (%s): %w", a.Package, a.ID, a.Pos, err)
		}
		doc.Statements = append(doc.Statements, st)
	}
	h, err := doc.CanonicalHash()
	if err != nil {
		return nil, fmt.Errorf("vex: %w", err)
	}
	doc.ID = "https://hic.dev/vex/" + in.Repository + "/" + strings.TrimPrefix(in.Digest, "sha256:") + "/" + h
	return doc, nil
}

// StatusFor is the status of a's statement about an image that installs
// version of its package, as Document states it: a fixed advisory is
// "affected" before the fixed version.
func StatusFor(a *Advisory, version string) (string, error) {
	st, err := statusFor(a, version)
	return string(st), err
}

// statusFor is the advisory's status for one installed version.
func statusFor(a *Advisory, version string) (govex.Status, error) {
	st := govex.Status(a.Status)
	if st != govex.StatusFixed || a.Fixed == "" {
		return st, nil
	}
	have, err := apkversion.Parse(version)
	if err != nil {
		return "", fmt.Errorf("installed version %q: %w", version, err)
	}
	fixed, err := apkversion.Parse(a.Fixed)
	if err != nil {
		return "", fmt.Errorf("fixed version %q: %w", a.Fixed, err)
	}
	if apkversion.Compare(have, fixed) < 0 {
		return govex.StatusAffected, nil
	}
	return govex.StatusFixed, nil
}

func imagePurl(repo, digest string) (string, error) {
	name := repo
	var quals packageurl.Qualifiers
	if i := strings.LastIndexByte(repo, '/'); i >= 0 {
		name = repo[i+1:]
		quals = packageurl.QualifiersFromMap(map[string]string{"repository_url": repo})
	}
	if !strings.HasPrefix(digest, "sha256:") {
		return "", fmt.Errorf("vex: image digest %q is not sha256:<hex>", digest)
	}
	return packageurl.NewPackageURL("oci", "", name, digest, quals, "").ToString(), nil
}

// PackagePurl is the purl a document names an installed package by:
// pkg:apk/DISTRO/NAME@VERSION?arch=ARCH.
func packagePurl(distro string, p Package) string {
	ns := distro
	if i := strings.IndexByte(ns, '-'); i >= 0 { // alpine-3.22 -> alpine
		ns = ns[:i]
	}
	var q packageurl.Qualifiers
	if p.Arch != "" {
		q = packageurl.QualifiersFromMap(map[string]string{"arch": p.Arch})
	}
	return packageurl.NewPackageURL("apk", ns, p.Name, p.Version, q, "").ToString()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
