// Package spec defines Spec, one image variant (image x stream x distro x
// variant) as the schema derives it, and the grammar of the refs that name
// specs. A Spec remembers where each of its fields came from in the catalog
// source so every later finding can point at file:line:col.
package spec

import (
	"slices"
	"sort"
	"strings"

	"github.com/hic-build/hic/compiler/finding"
)

// Spec is one flat, concrete spec decoded from the schema's #Spec.
type Spec struct {
	Ref          string   `json:"ref"`
	Image        string   `json:"image"`
	Stream       string   `json:"stream"`
	Version      string   `json:"version"`
	Distro       string   `json:"distro"`
	Variant      string   `json:"variant"`
	Repository   string   `json:"repository"`
	Tags         []string `json:"tags"`
	Platforms    []string `json:"platforms"`
	MainPackage  string   `json:"mainPackage"`
	Packages     []string `json:"packages"`
	Repositories []string `json:"repositories"`
	Keyrings     []string `json:"keyrings"`
	// Keys pin the keyring's keys by content: keyring URL -> "sha256:" and
	// the hex SHA-256 of the DER public key, or "unpinned".
	Keys        map[string]string `json:"keys"`
	User        User              `json:"user"`
	RunAs       RunAs             `json:"runAs"`
	Entrypoint  []string          `json:"entrypoint"`
	Cmd         []string          `json:"cmd"`
	Workdir     string            `json:"workdir"`
	Env         map[string]string `json:"env"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	Paths       []Path            `json:"paths"`
	StopSignal  string            `json:"stopSignal,omitempty"`
	Annotations map[string]string `json:"annotations"`
	Dates       Dates             `json:"dates"`
	Exceptions  []Exception       `json:"exceptions"`
	Tests       []Test            `json:"tests"`
	Meta        Meta              `json:"meta"`
	Policy      Policy            `json:"policy"`

	// File is the catalog file that defines the spec's image, relative to
	// the catalog root.
	File string `json:"-"`
	// Locator finds where a field of the spec is written in the catalog.
	Locator Locator `json:"-"`
}

// KeyUnpinned is the Keys value of a key the schema does not pin by
// content: it is trusted by its file name.
const KeyUnpinned = "unpinned"

// Locator maps a field path of a spec ("ports", "ports.0", "dates.eol",
// "exceptions.1") to where it is written in the catalog source. The loader
// provides it; a spec built by hand may leave it nil.
type Locator interface {
	Locate(s *Spec, field string) (finding.Position, bool)
}

type User struct {
	Name string `json:"name"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Home string `json:"home"`
}

type RunAs struct {
	UID  uint32 `json:"uid"`
	Name string `json:"name"`
}

type Path struct {
	Path string `json:"path"`
	Type string `json:"type"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Mode uint32 `json:"mode"`
}

type Dates struct {
	Released string `json:"released"`
	EOL      string `json:"eol,omitempty"`
}

type Exception struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

type Test struct {
	Name    string   `json:"name"`
	Command []string `json:"command"`
	Expect  string   `json:"expect,omitempty"`
	Exit    int      `json:"exit"`
	Timeout string   `json:"timeout,omitempty"`
}

type Meta struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Homepage    string   `json:"homepage"`
	License     string   `json:"license"`
	Categories  []string `json:"categories"`
}

// Policy carries the distro's and variant's hardening facts into the spec.
type Policy struct {
	Hardened               bool     `json:"hardened"`
	ShellPackages          []string `json:"shellPackages"`
	PackageManagerPackages []string `json:"packageManagerPackages"`
	ShellPaths             []string `json:"shellPaths"`
	PackageManagerPaths    []string `json:"packageManagerPaths"`
	// BasePackages are the distro's packages, the first of Packages;
	// DevPackages the dev variant's, the last of them. Between them are the
	// main package and the image's own packages.
	BasePackages []string `json:"basePackages"`
	DevPackages  []string `json:"devPackages"`
}

// Pos returns where field (a dotted path, e.g. "ports.1") is written. It falls
// back to the closest written parent, then to the spec's file.
func (s *Spec) Pos(field string) finding.Position {
	if s.Locator != nil {
		for p := field; ; {
			if pos, ok := s.Locator.Locate(s, p); ok {
				return pos
			}
			if p == "" {
				break
			}
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				i = 0
			}
			p = p[:i]
		}
	}
	return finding.Position{File: s.File}
}

// Exception returns the exception for rule, if the spec has one.
func (s *Spec) Exception(rule string) (Exception, int, bool) {
	for i, e := range s.Exceptions {
		if e.Rule == rule {
			return e, i, true
		}
	}
	return Exception{}, -1, false
}

// ImagePackages returns where the image's own packages are in Packages,
// Packages[start:end]: after the base packages and the main package, before
// the dev variant's. ok is false when Packages is not of that shape (a spec
// made by hand).
func (s *Spec) ImagePackages() (start, end int, ok bool) {
	start = len(s.Policy.BasePackages) + 1
	end = len(s.Packages) - len(s.Policy.DevPackages)
	if start > end || s.Packages[start-1] != s.MainPackage ||
		!slices.Equal(s.Packages[:start-1], s.Policy.BasePackages) || !slices.Equal(s.Packages[end:], s.Policy.DevPackages) {
		return 0, 0, false
	}
	return start, end, true
}

// Redundant reports, by index in Packages, each of the image's own packages
// that the base installs already ("base"), that is the main package's name
// ("main") or that the image names earlier ("packages"). A package the dev
// variant also adds is not redundant: the runtime variant needs it from the
// image.
func (s *Spec) Redundant() map[int]string {
	start, end, ok := s.ImagePackages()
	if !ok {
		return nil
	}
	out := map[int]string{}
	seen := map[string]bool{}
	base := map[string]bool{}
	for _, p := range s.Policy.BasePackages {
		base[p] = true
	}
	for i := start; i < end; i++ {
		p := s.Packages[i]
		switch {
		case base[p]:
			out[i] = "base"
		case p == PackageName(s.MainPackage):
			out[i] = "main"
		case seen[p]:
			out[i] = "packages"
		}
		seen[p] = true
	}
	return out
}

// PackageName returns the name part of a package constraint ("nginx=1.2-r0" -> "nginx").
func PackageName(p string) string {
	if i := strings.IndexAny(p, "=<>~"); i >= 0 {
		return p[:i]
	}
	return p
}

// SortByRef orders specs by ref.
func SortByRef(specs []*Spec) {
	sort.Slice(specs, func(i, j int) bool { return specs[i].Ref < specs[j].Ref })
}
