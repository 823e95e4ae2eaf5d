package verify

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/inspect"
)

func TestParsePurl(t *testing.T) {
	for _, tc := range []struct {
		in                  string
		name, version, arch string
		bad                 bool
	}{
		{in: "pkg:apk/wolfi/busybox@1.37.0-r0?arch=x86_64&repository_url=https%3A%2F%2Fpackages.wolfi.dev%2Fos", name: "busybox", version: "1.37.0-r0", arch: "x86_64"},
		{in: "pkg:apk/alpine/libstdc%2B%2B@14.2.0-r6?arch=aarch64&distro=alpine-3.23", name: "libstdc++", version: "14.2.0-r6", arch: "aarch64"},
		{in: "pkg:apk/wolfi/ca-certificates-bundle@20250619-r0?arch=noarch", name: "ca-certificates-bundle", version: "20250619-r0", arch: "noarch"},
		{in: "pkg:deb/debian/curl@8.0", bad: true},
		{in: "pkg:apk/wolfi/busybox", bad: true},
		{in: "pkg:apk/busybox@1", bad: true},
	} {
		n, v, a, err := parsePurl(tc.in)
		if (err != nil) != tc.bad || n != tc.name || v != tc.version || a != tc.arch {
			t.Errorf("parsePurl(%q) = %q %q %q %v", tc.in, n, v, a, err)
		}
	}
}

const db = `C:Q1Z2lO8Xr0Xk1RLGVwHq4nJRLrsvE=
P:busybox
V:1.37.0-r0
A:x86_64
S:1
F:bin

C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=
P:web
V:2.1.0-r0
A:x86_64
`

func TestCheckDeps(t *testing.T) {
	pkgs, err := inspect.ParseInstalled([]byte(db))
	if err != nil {
		t.Fatal(err)
	}
	dep := func(name, version, checksum string) attest.ResourceDescriptor {
		d, err := attest.ChecksumDigest(checksum)
		if err != nil {
			t.Fatal(err)
		}
		return attest.ResourceDescriptor{URI: "pkg:apk/wolfi/" + name + "@" + version + "?arch=x86_64", Digest: d}
	}
	prov := func(deps ...attest.ResourceDescriptor) attest.ProvenancePredicate {
		var p attest.ProvenancePredicate
		p.BuildDefinition.ResolvedDependencies = deps
		return p
	}
	plats := []*platformImage{{platform: "linux/amd64", arch: "x86_64", db: pkgs}}
	busybox := dep("busybox", "1.37.0-r0", "Q1Z2lO8Xr0Xk1RLGVwHq4nJRLrsvE=")
	web := dep("web", "2.1.0-r0", "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	annotated := func(name, checksum string) attest.ResourceDescriptor {
		return attest.ResourceDescriptor{URI: "pkg:apk/wolfi/" + name + "@2.1.0-r0?arch=x86_64",
			Digest: map[string]string{"sha256": strings.Repeat("e", 64)}, Annotations: map[string]string{attest.AnnotationAPKChecksum: checksum}}
	}
	for _, tc := range []struct {
		name string
		p    attest.ProvenancePredicate
		want []string
	}{
		{"match", prov(busybox, web), nil},
		{"missing", prov(busybox), []string{"installed but not in the provenance: web-2.1.0-r0 (x86_64)"}},
		{"extra", prov(busybox, web, dep("curl", "8.0-r0", "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=")), []string{"in the provenance but not installed: curl-8.0-r0 (x86_64)"}},
		{"checksum", prov(busybox, dep("web", "2.1.0-r0", "Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB=")), []string{"checksum differs from the apk database: web-2.1.0-r0 (x86_64)"}},
		// hic's provenance now: the file's sha256 as the digest, the APK
		// checksum as an annotation.
		{"annotated", prov(busybox, annotated("web", "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=")), nil},
		{"annotated checksum", prov(busybox, annotated("web", "Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB=")), []string{"checksum differs from the apk database: web-2.1.0-r0 (x86_64)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, checkDeps(tc.p, plats)); d != "" {
				t.Errorf("checkDeps (-want +got):\n%s", d)
			}
		})
	}
}

func TestDiffAndRepo(t *testing.T) {
	want := map[string]bool{"a=1": true, "b=2": true}
	if d := diff(want, map[string]bool{"a=1": true, "b=2": true}); d != "" {
		t.Errorf("equal sets: %q", d)
	}
	if d := diff(want, map[string]bool{"a=1": true, "c=3": true}); d != "misses installed packages b=2 and lists packages not installed c=3" {
		t.Errorf("diff: %q", d)
	}
	for _, tc := range []struct {
		ref, repo string
		want      bool
	}{{"nginx", "nginx", true}, {"hic/nginx", "nginx", true}, {"hic/xnginx", "nginx", false}, {"nginx", "", false}} {
		if got := sameRepo(tc.ref, tc.repo); got != tc.want {
			t.Errorf("sameRepo(%q, %q) = %v", tc.ref, tc.repo, got)
		}
	}
	if !slices.Equal([]string{apkArch("amd64"), apkArch("arm64")}, []string{"x86_64", "aarch64"}) {
		t.Error("apkArch")
	}
}

func TestGroup(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, []string{}},
		{"distinct", []string{"linux/amd64: no signed SPDX SBOM", "index: no provenance"}, []string{"linux/amd64: no signed SPDX SBOM", "index: no provenance"}},
		{"same problem on two platforms", []string{"linux/amd64: no signed SPDX SBOM", "linux/arm64: no signed CycloneDX SBOM", "linux/arm64: no signed SPDX SBOM"},
			[]string{"linux/amd64, linux/arm64: no signed SPDX SBOM", "linux/arm64: no signed CycloneDX SBOM"}},
		{"repeated word for word", []string{"layer sha256:ab is truncated", "layer sha256:ab is truncated", "layer sha256:ab is truncated"}, []string{"layer sha256:ab is truncated (3 times)"}},
		{"repeated in one place", []string{"index: bad", "index: bad"}, []string{"index: bad (2 times)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, group(tc.in)); d != "" {
				t.Errorf("group (-want +got):\n%s", d)
			}
		})
	}
}

// An apk purl lower-cases the package name (R, Xvfb): the SBOM's packages
// are named as the component names them, so they match the apk database.
// (From an outside try: verify failed on freshly built r-base and xvfb.)
func TestCycloneDXPackageNamesKeepCase(t *testing.T) {
	bom := `{"components": [
		{"name": "R", "version": "4.5.1-r0", "purl": "pkg:apk/wolfi/r@4.5.1-r0?arch=x86_64"},
		{"name": "busybox", "version": "1.37.0-r0", "purl": "pkg:apk/wolfi/busybox@1.37.0-r0?arch=x86_64"},
		{"name": "other", "version": "1-r0", "purl": "pkg:apk/wolfi/xvfb@21.1-r0?arch=x86_64"}]}`
	got, err := cyclonedxPackages([]byte(bom))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"R=4.5.1-r0": true, "busybox=1.37.0-r0": true, "xvfb=21.1-r0": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cyclonedxPackages (-want +got):\n%s", diff)
	}
}

// TestResolveBadReference: a registry reference that does not parse is
// ErrBadReference, which callers report as their user's mistake, before any
// request is sent.
func TestResolveBadReference(t *testing.T) {
	for _, r := range []*Registry{{}, {Prefix: "127.0.0.1:1/p1"}} {
		for _, ref := range []string{"HTTPS://127.0.0.1:1/p1/jq:latest", "127.0.0.1:1/P1/jq:latest", "127.0.0.1:1/p1/nginx:latest"} {
			if r.Prefix == "" && ref == "127.0.0.1:1/p1/nginx:latest" {
				continue // a reference
			}
			if _, err := r.Resolve(t.Context(), ref); !errors.Is(err, ErrBadReference) {
				t.Errorf("Registry{Prefix: %q}.Resolve(%q) = %v, want ErrBadReference", r.Prefix, ref, err)
			}
		}
	}
}
