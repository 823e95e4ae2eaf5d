package main

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/universe"
)

// TestMirrorServesOnlyTheUniverse generates a mirror for specs of a catalog
// with a universe: it holds exactly the universe closure of their packages
// (pinned and newest versions, no invented packages), an entrypoint only in
// the package the universe says ships it, and an image built from it has
// that file. A spec naming a package outside the universe fails hic mirror
// and hic build with the same finding.
func TestMirrorServesOnlyTheUniverse(t *testing.T) {
	cat := vetUniverseCatalog
	dir := t.TempDir()
	stdout := hicCLI(t, nil, "-C", cat, "mirror", "--out", dir, "good:1-wolfi-runtime", "java-home:1-wolfi-runtime", "unknown-files:1-wolfi-runtime").must(t, 0).Stdout
	if !strings.Contains(stdout, "wolfi: packages from the universe (snapshot 2026-08-22") {
		t.Errorf("mirror does not say it serves the universe:\n%s", stdout)
	}
	u, err := universe.ReadDir(filepath.Join(cat, "universe"), "wolfi")
	if err != nil {
		t.Fatal(err)
	}
	trusted := map[string]string{}
	keys, _ := filepath.Glob(filepath.Join(dir, "wolfi", "keys", "*.rsa.pub"))
	for _, k := range keys {
		trusted[filepath.Base(k)] = k
	}
	for _, arch := range []string{"x86_64", "aarch64"} {
		pkgs, _, err := resolve.ReadIndex(filepath.Join(dir, "wolfi", arch, "APKINDEX.tar.gz"), trusted)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for id, p := range pkgs {
			got = append(got, id)
			up := u.Lookup(p.Name)
			if up == nil || !up.Has(p.Version) {
				t.Errorf("%s: mirror serves %s, which the universe does not have", arch, id)
				continue
			}
			hasNginx := slices.ContainsFunc(p.Provides, func(s string) bool { return strings.HasPrefix(s, "cmd:nginx") })
			if hasNginx != (p.Name == "nginx-mainline") {
				t.Errorf("%s: %s provides %v", arch, id, p.Provides)
			}
		}
		sort.Strings(got)
		want := []string{
			"ca-certificates-bundle=20250619-r0", "facts-unknown=3.1-r0", "glibc=2.42-r0", "ld-linux=2.42-r0", "nginx-mainline=1.31.4-r0",
			"openjdk-21-jre=21.0.8-r1", "openjdk-21-jre=21.0.9-r0", "tzdata=2025b-r0", "wolfi-baselayout=20230201-r24",
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: mirror packages (-want +got):\n%s", arch, d)
		}
	}

	// An image built from it starts a program its package really ships,
	// and everything about it says its contents are synthetic.
	out := filepath.Join(t.TempDir(), "out")
	_, berr := bldBuild(t, 0, cat, "java-home:1-wolfi-runtime", "--mirrors", dir, "--out", out, "--key", bldKey(t))
	if !strings.Contains(berr, "synthetic: 1 of 1 specs were built from a generated mirror") {
		t.Errorf("build summary does not say the image is synthetic:\n%s", berr)
	}
	sr := bldReport(t, out)["java-home:1-wolfi-runtime"]
	if !sr.Synthetic {
		t.Errorf("report.json: %+v, want synthetic", sr)
	}
	var hr attest.HardeningReport
	attPredicate(t, out, sr.ImageDigest, attest.PredicateHardening, &hr)
	if !hr.Synthetic {
		t.Error("signed hardening report: not marked synthetic")
	}
	files := bldFiles(t, bldPlatformImage(t, filepath.Join(out, "oci"), "java-home:1-wolfi-runtime", "linux/arm64"))
	if _, ok := files["usr/lib/jvm/java-21-openjdk/bin/java"]; !ok {
		t.Error("the image lacks /usr/lib/jvm/java-21-openjdk/bin/java, which its package ships")
	}
	if _, ok := files["usr/bin/java"]; ok {
		t.Error("the image has /usr/bin/java, which no package of it ships")
	}

	// Where the universe knows no program of a main package at all (vet
	// can only warn), the main package ships the program the image starts:
	// its absence from the universe is no evidence it is missing.
	uout := filepath.Join(t.TempDir(), "out")
	bldBuild(t, 0, cat, "unknown-files:1-wolfi-runtime", "--mirrors", dir, "--out", uout, "--key", bldKey(t))
	ufiles := bldFiles(t, bldPlatformImage(t, filepath.Join(uout, "oci"), "unknown-files:1-wolfi-runtime", "linux/amd64"))
	if _, ok := ufiles["usr/libexec/facts-unknown/run"]; !ok {
		t.Error("unknown-files lacks /usr/libexec/facts-unknown/run, which its main package should ship when the universe knows none of its programs")
	}

	// Alpine's main and community get a directory each, holding what the
	// universe says each has, and an image needing both builds from them.
	adir := t.TempDir()
	hicCLI(t, nil, "-C", cat, "mirror", "--out", adir, "alpine-good:1-alpine-3.23-runtime").must(t, 0)
	for dir, want := range map[string][]string{
		"main":      {"alpine-baselayout-data", "ca-certificates-bundle", "musl", "postgresql-common", "tzdata"},
		"community": {"postgresql17"},
	} {
		trusted := map[string]string{}
		keys, _ := filepath.Glob(filepath.Join(adir, "alpine-3.23", dir, "keys", "*.rsa.pub"))
		for _, k := range keys {
			trusted[filepath.Base(k)] = k
		}
		pkgs, _, err := resolve.ReadIndex(filepath.Join(adir, "alpine-3.23", dir, "x86_64", "APKINDEX.tar.gz"), trusted)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range pkgs {
			got = append(got, p.Name)
		}
		sort.Strings(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("alpine-3.23/%s (-want +got):\n%s", dir, d)
		}
	}
	aout := filepath.Join(t.TempDir(), "out")
	bldBuild(t, 0, cat, "alpine-good:1-alpine-3.23-runtime", "--mirrors", adir, "--out", aout, "--unsigned")
	if _, ok := bldFiles(t, bldPlatformImage(t, filepath.Join(aout, "oci"), "alpine-good:1-alpine-3.23-runtime", "linux/amd64"))["usr/libexec/postgresql17/postgres"]; !ok {
		t.Error("alpine-good lacks /usr/libexec/postgresql17/postgres")
	}

	// The UX case: mirror and build refuse it with the same finding.
	const want = `ux/ux.cue:9:2: error: package-exists: package "no-such-package-xyz" is not in wolfi (snapshot 2026-08-22)`
	m := hicCLI(t, nil, "-C", cat, "mirror", "--out", t.TempDir(), "ux:1-wolfi-runtime")
	if m.Code != 1 || !strings.Contains(m.Stderr, want) {
		t.Errorf("hic mirror ux: %s", m)
	}
	b := hicCLI(t, nil, "-C", cat, "build", "ux:1-wolfi-runtime", "--mirrors", dir, "--out", filepath.Join(t.TempDir(), "o"), "--unsigned")
	if b.Code != 1 || !strings.Contains(b.Stderr, want) {
		t.Errorf("hic build ux: %s", b)
	}
	mErr, bErr := m.Stderr, b.Stderr
	if line := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "package-exists") {
				return l
			}
		}
		return ""
	}; line(mErr) != line(bErr) {
		t.Errorf("mirror and build differ:\n%s\n%s", line(mErr), line(bErr))
	}
	if _, err := os.Stat(filepath.Join(out, "oci")); err != nil {
		t.Fatal(err)
	}
}
