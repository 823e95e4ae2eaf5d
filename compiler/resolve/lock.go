package resolve

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"chainguard.dev/apko/pkg/build/types"
)

// Lock is the exact package set of one spec, per architecture.
//
// Its JSON form (Marshal) is stable: the same inputs give the same bytes, so
// it can sit next to the compiled spec as <ref>.lock.json and feed the
// spec's input digest.
type Lock struct {
	// Ref is the spec ref the lock belongs to.
	Ref string `json:"ref"`
	// Archs maps an APK architecture ("x86_64", "aarch64") to the packages
	// installed for it, sorted by name.
	Archs map[string][]Package `json:"archs"`
}

// Package is one locked package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Arch is the package's APK architecture ("x86_64", "aarch64", "noarch").
	Arch string `json:"arch"`
	// Repository is the catalog's repository URL the package comes from,
	// never a mirror's path.
	Repository string `json:"repository"`
	// Checksum is the APK control checksum as the signed index states it:
	// "Q1" + base64(SHA-1 of the control gzip segment).
	Checksum string `json:"checksum"`
	// Size is the size of the .apk file in bytes, as the index states it.
	Size uint64 `json:"size"`
	// BuildTime is the package's build time from the index. The newest one
	// is the image's build date.
	BuildTime time.Time `json:"buildTime"`
}

// String returns "name-version (arch)".
func (p Package) String() string { return fmt.Sprintf("%s-%s (%s)", p.Name, p.Version, p.Arch) }

// Packages returns the locked packages of arch (an apko architecture in any
// spelling: "amd64" or "x86_64").
func (l *Lock) Packages(arch types.Architecture) []Package {
	return l.Archs[arch.ToAPK()]
}

// BuildDate returns the newest BuildTime of all locked packages of all
// architectures, or the Unix epoch if there is none. It is the build date of
// the image: it comes from the inputs, never from the clock.
func (l *Lock) BuildDate() time.Time {
	d := time.Unix(0, 0).UTC()
	for _, pkgs := range l.Archs {
		for _, p := range pkgs {
			if p.BuildTime.After(d) {
				d = p.BuildTime.UTC()
			}
		}
	}
	return d
}

// PackageNames returns the names of the packages locked for any
// architecture, sorted, each once: the packages the image installs.
func (l *Lock) PackageNames() []string {
	var names []string
	for _, pkgs := range l.Archs {
		for _, p := range pkgs {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Marshal returns the lock as indented JSON with a final newline. Packages
// are sorted by name, version and arch, so equal locks give equal bytes.
func (l *Lock) Marshal() ([]byte, error) {
	c := Lock{Ref: l.Ref, Archs: make(map[string][]Package, len(l.Archs))}
	for a, pkgs := range l.Archs {
		pkgs = slices.Clone(pkgs)
		sortPackages(pkgs)
		c.Archs[a] = pkgs
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: marshal lock: %w", l.Ref, err)
	}
	return append(b, '\n'), nil
}

// Parse reads a lock written by Marshal.
func Parse(b []byte) (*Lock, error) {
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("parse lock: %w", err)
	}
	if l.Ref == "" || len(l.Archs) == 0 {
		return nil, fmt.Errorf("parse lock: no ref or no architectures")
	}
	for a, pkgs := range l.Archs {
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || !strings.HasPrefix(p.Checksum, "Q1") {
				return nil, fmt.Errorf("parse lock %s: %s: package %q has no name, version or Q1 checksum", l.Ref, a, p.Name)
			}
			if err := CheckPackageID(p.Name, p.Version, p.Arch); err != nil {
				return nil, fmt.Errorf("parse lock %s: %s: %w", l.Ref, a, err)
			}
		}
	}
	return &l, nil
}

func sortPackages(pkgs []Package) {
	slices.SortFunc(pkgs, func(a, b Package) int {
		return strings.Compare(a.Name+"\x00"+a.Version+"\x00"+a.Arch, b.Name+"\x00"+b.Version+"\x00"+b.Arch)
	})
}
