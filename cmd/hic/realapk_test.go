package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/apk/apk"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/testenv"
)

const realAPKCatalog = "testdata/realapk/catalog"

// TestRealMelangePackage builds an image from a package no one on this
// project wrote: GNU hello as Wolfi's melange built and signed it (apko's
// module test data). hic mirror makes the rest of the Wolfi repository; the
// real package replaces the generated one, the index entry is made from the
// package's own control data and signed by the mirror's key. hic build
// installs it, hic verify passes the image, and a flipped byte of the
// package is caught.
func TestRealMelangePackage(t *testing.T) {
	real := filepath.Join(testenv.ApkoTestdata(t), "hello-wolfi-2.12.1-r0.apk")
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	bldMirror(t, realAPKCatalog, mirror)
	apkPath := filepath.Join(mirror, "wolfi", "x86_64", "hello-wolfi-2.12.1-r0.apk")
	if err := os.WriteFile(apkPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pkg, err := apk.ParsePackage(t.Context(), bytes.NewReader(data), uint64(len(data)))
	if err != nil {
		t.Fatalf("the real package does not parse: %v", err)
	}
	signer := bldMirrorSigner(t, mirror, "wolfi-signing")
	index := filepath.Join(mirror, "wolfi", "x86_64", "APKINDEX.tar.gz")
	bldResign(t, index, signer, func(idx *apk.APKIndex) {
		for i, p := range idx.Packages {
			if p.Name == pkg.Name && p.Version == pkg.Version {
				idx.Packages[i] = pkg
			}
		}
	})

	key := bldKey(t)
	pub := filepath.Join(filepath.Dir(key), "hic.pub")
	out := filepath.Join(tmp, "out")
	const ref = "hello-wolfi:2.12-wolfi-runtime"
	bldBuild(t, 0, realAPKCatalog, "--all", "--mirrors", mirror, "--out", out, "--key", key)
	files := bldFiles(t, bldPlatformImage(t, filepath.Join(out, "oci"), ref, "linux/amd64"))
	hello := files["usr/bin/hello"]
	if len(hello) != 47736 || !bytes.HasPrefix(hello, []byte("\x7fELF")) {
		t.Errorf("/usr/bin/hello is %d bytes, want the real 47736-byte ELF program", len(hello))
	}
	hicCLI(t, nil, "-C", realAPKCatalog, "verify", ref, "--layout", filepath.Join(out, "oci"), "--key", pub).must(t, 0)

	// The signed provenance names the package by the SHA-256 of the .apk
	// file installed, hashed here from apko's test data, and keeps the
	// APKINDEX checksum (of the control segment only) as an annotation.
	// The mirror is generated: the source says so, and there is no
	// download location (the file was not fetched from Wolfi).
	sum := sha256.Sum256(data)
	var prov attest.ProvenancePredicate
	attPredicate(t, out, bldReport(t, out)[ref].ImageDigest, attest.PredicateSLSAProvenance, &prov)
	found := false
	for _, d := range prov.BuildDefinition.ResolvedDependencies {
		if d.Name != "hello-wolfi" {
			continue
		}
		found = true
		if want := map[string]string{"sha256": hex.EncodeToString(sum[:])}; !maps.Equal(d.Digest, want) {
			t.Errorf("provenance: hello-wolfi digest %v, the .apk file's is %v", d.Digest, want)
		}
		if d.Annotations["apkChecksum"] != pkg.ChecksumString() {
			t.Errorf("provenance: hello-wolfi apkChecksum %q, the package's control checksum is %q", d.Annotations["apkChecksum"], pkg.ChecksumString())
		}
		if d.Annotations["source"] != attest.SourceSyntheticMirror || d.DownloadLocation != "" {
			t.Errorf("provenance: hello-wolfi source %q, downloadLocation %q; want %s and none", d.Annotations["source"], d.DownloadLocation, attest.SourceSyntheticMirror)
		}
		if d.Annotations["repository"] != "https://packages.wolfi.dev/os" {
			t.Errorf("provenance: hello-wolfi repository %q", d.Annotations["repository"])
		}
	}
	if !found {
		t.Error("the provenance does not list hello-wolfi")
	}

	// The signed SPDX SBOM names the apko the provenance names, not apko's
	// default (the binary's main module version, "(devel)").
	var spdx struct {
		CreationInfo struct{ Creators []string } `json:"creationInfo"`
	}
	attPredicate(t, out, bldReport(t, out)[ref].ImageDigest, attest.PredicateSPDX, &spdx)
	if want := "Tool: apko (" + prov.RunDetails.Builder.Version["apko"] + ")"; !slices.Contains(spdx.CreationInfo.Creators, want) || prov.RunDetails.Builder.Version["apko"] == "" {
		t.Errorf("SPDX creators %q, want %q (the provenance's apko)", spdx.CreationInfo.Creators, want)
	}

	// One byte of the real package flipped in the mirror. The built image
	// stays as it was (nothing of the package is read again: it is cached
	// by its checksum); a fresh build refuses the package before anything
	// is installed.
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)-100] ^= 0x01
	if err := os.WriteFile(apkPath, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(tmp, "fresh")
	r := hicCLI(t, nil, "-C", realAPKCatalog, "build", "--today", bldToday, "--all", "--mirrors", mirror, "--out", fresh, "--key", key)
	msg, code := r.output(), r.Code
	if code != 1 || !strings.Contains(msg, "hello-wolfi-2.12.1-r0") || !strings.Contains(msg, ref) {
		t.Errorf("build from the flipped package: exit %d, want 1 naming the spec and the package:\n%s", code, msg)
	}
	if _, err := os.Stat(filepath.Join(fresh, "oci", "index.json")); err == nil {
		if tags, _ := tamperTags(t, filepath.Join(fresh, "oci")); len(tags) != 0 {
			t.Errorf("the flipped package got an image tagged: %v", tags)
		}
	}
}
