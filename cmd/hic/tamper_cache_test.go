package main

// Tamper suite: attacks on the state a later hic build trusts (the cached
// images of the layout) and on what it must never hand on (a spec whose
// post-build checks fail), detected by hic build and hic publish.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/apk/apk"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/store"
)

func init() { tamperRegister("cache", tamperCacheCases) }

func tamperCacheCases() []tamperCase {
	build := func(t *testing.T, e *tamperEnv) cliRun { return e.Build(t, "--all") }
	// dropWolfi removes the wolfi image from the layout and the layer
	// cache, so the next build installs its packages again.
	dropWolfi := func(t *testing.T, e *tamperEnv) {
		t.Helper()
		tamperEditIndex(t, e, func(im *v1.IndexManifest) {
			var kept []v1.Descriptor
			for _, d := range im.Manifests {
				if d.Annotations[store.AnnotationSpecRef] != tamperWolfi {
					kept = append(kept, d)
				}
			}
			im.Manifests = kept
		})
		if err := os.RemoveAll(filepath.Join(e.Out, "cache", "layers")); err != nil {
			t.Fatal(err)
		}
	}
	// rebuilt wants the spec rebuilt (not cached) into the same good image,
	// which then verifies.
	rebuilt := func(spec string) func(t *testing.T, e *tamperEnv, r cliRun) {
		return func(t *testing.T, e *tamperEnv, r cliRun) {
			rep := bldReport(t, e.Out)
			if s := rep[spec]; s.Status != report.StatusBuilt || s.ImageDigest != e.Digest(spec) {
				t.Errorf("%s: status %s image %s, want built %s", spec, s.Status, s.ImageDigest, e.Digest(spec))
			}
			if v := e.Verify(t, spec); v.Code != 0 {
				t.Errorf("the rebuilt image does not verify: %s", v)
			}
		}
	}
	return []tamperCase{
		{
			Name: "cache: a cached image's layer corrupted in place",
			Attack: func(t *testing.T, e *tamperEnv) {
				_, m := tamperPlatform(t, e, tamperWolfi, "linux/arm64")
				tamperFlipBlob(t, e, m.Layers[0].Digest)
			},
			Detect:   build,
			ExitZero: true,
			Want:     []string{"cached image is damaged; rebuilding", tamperWolfi, "content has digest"},
			Check:    rebuilt(tamperWolfi),
		},
		{
			// The memo of checks (store/memo.go): a no-op build on the
			// case's own copy remembers every blob as hashed; the layer is
			// then rewritten in place with its size and modification time
			// kept, so only its change time differs.
			Name: "cache: a layer rewritten in place, mtime kept, after a no-op build remembered it as checked",
			Attack: func(t *testing.T, e *tamperEnv) {
				if r := e.Build(t, "--all"); r.Code != 0 || !strings.Contains(r.output(), "cached") {
					t.Fatalf("the no-op build before the attack: %s", r)
				}
				_, m := tamperPlatform(t, e, tamperWolfi, "linux/amd64")
				p := tamperBlobPath(e, m.Layers[0].Digest)
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				tamperFlipBlob(t, e, m.Layers[0].Digest)
				if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
					t.Fatal(err)
				}
			},
			Detect:   build,
			ExitZero: true,
			Want:     []string{"cached image is damaged; rebuilding", tamperWolfi, "content has digest"},
			Check:    rebuilt(tamperWolfi),
		},
		{
			// apko's package cache (OUT/cache) holds each package of a
			// mirror expanded, and apko reads an entry by its name. The
			// spec is built once more in the case's own copy (its image
			// dropped from index.json, the layer cache emptied), so that
			// the cache holds entries under this copy's mirror; then the
			// expanded data of every cached package is edited and the
			// image dropped again, so the next build installs from them.
			Name: "cache: the expanded data of a mirror's packages edited in apko's package cache",
			Attack: func(t *testing.T, e *tamperEnv) {
				forceRebuild := func() { dropWolfi(t, e) }
				forceRebuild()
				if r := e.Build(t, "--all"); r.Code != 0 {
					t.Fatalf("the build before the attack: %s", r)
				}
				tars, err := filepath.Glob(filepath.Join(e.Out, "cache", "file*", "*", "*", "*.dat.tar"))
				if err != nil || len(tars) == 0 {
					t.Fatalf("no expanded package in apko's cache under %s (%v)", e.Out, err)
				}
				for _, p := range tars {
					tamperFlipFile(t, p)
				}
				forceRebuild()
			},
			Detect:   build,
			ExitZero: true,
			Want:     []string{"package cache entry altered", "is not the decompressed data segment"},
			Check:    rebuilt(tamperWolfi),
		},
		{
			// apko writes each package's size, its signature segment
			// included, into the image's apk database, from the files of
			// its package cache entry.
			Name: "cache: the signature segments of a mirror's packages lengthened in apko's package cache",
			Attack: func(t *testing.T, e *tamperEnv) {
				// As above: the copy's entries are made under its own paths
				// by a build, then edited, and the image dropped again.
				forceRebuild := func() { dropWolfi(t, e) }
				forceRebuild()
				if r := e.Build(t, "--all"); r.Code != 0 {
					t.Fatalf("the build before the attack: %s", r)
				}
				sigs, err := filepath.Glob(filepath.Join(e.Out, "cache", "file*", "*", "*", "*.sig.tar.gz"))
				if err != nil || len(sigs) == 0 {
					t.Fatalf("no signature segment in apko's cache under %s (%v)", e.Out, err)
				}
				for _, p := range sigs {
					f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					f.Write(make([]byte, 64))
					f.Close()
				}
				forceRebuild()
			},
			Detect:   build,
			ExitZero: true,
			Want:     []string{"package cache entry altered", "is not the mirror file's signature segment"},
			Check:    rebuilt(tamperWolfi),
		},
		{
			Name: "cache: a cached image's attestation envelope corrupted",
			Attack: func(t *testing.T, e *tamperEnv) {
				r := tamperReferrer(t, e, tamperAlpine, attest.PredicateSLSAProvenance)
				tamperFlipBlob(t, e, r.Envelope.Digest)
			},
			Detect:   build,
			ExitZero: true,
			Want:     []string{"cached image is damaged; rebuilding", tamperAlpine, "layer of "},
			Check:    rebuilt(tamperAlpine),
		},
		{
			Name: "cache: a cached config swapped for another image's config under its name",
			Attack: func(t *testing.T, e *tamperEnv) {
				_, wolfi := tamperPlatform(t, e, tamperWolfi, "linux/amd64")
				_, alpine := tamperPlatform(t, e, tamperAlpine, "linux/amd64")
				b, err := os.ReadFile(tamperBlobPath(e, alpine.Config.Digest))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(tamperBlobPath(e, wolfi.Config.Digest), b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			Detect:   build,
			ExitZero: true,
			Want:     []string{"cached image is damaged; rebuilding", tamperWolfi, "config of "},
			Check:    rebuilt(tamperWolfi),
		},
		{
			Name:   "build: a signed package ships a shell into a runtime image: the failing image takes no tag",
			Attack: tamperShellPackage,
			Detect: build,
			Exit:   exitFindings,
			Want:   []string{tamperWolfi, "fs-shell", "linux/amd64: shell binary /bin/sh", "is not tagged", "keeps the tags"},
			Check: func(t *testing.T, e *tamperEnv, r cliRun) {
				s := bldReport(t, e.Out)[tamperWolfi]
				if s.Status != report.StatusFailed || s.RejectedDigest == "" || s.RejectedDigest == e.Digest(tamperWolfi) {
					t.Errorf("report: status %s rejectedDigest %q, want failed with the rejected image", s.Status, s.RejectedDigest)
				}
				if !tamperHasRejected(t, e, tamperWolfi, s.RejectedDigest) {
					t.Errorf("index.json has no untagged entry annotated %s for %s", store.AnnotationRejected, s.RejectedDigest)
				}
				// An operator inspects the rejected image by digest.
				if v := e.Verify(t, "app@"+s.RejectedDigest); v.Code != exitFindings || !strings.Contains(v.Stdout, "fs-shell: linux/amd64: shell binary /bin/sh") {
					t.Errorf("hic verify of the rejected image does not show why it fails: %s", v)
				}
				// gc keeps the good image, which still verifies.
				if g := hicCLI(t, nil, "-C", e.Catalog, "gc", "--layout", e.OCI()); g.Code != 0 {
					t.Errorf("hic gc: %s", g)
				}
				if v := e.Verify(t, "app:latest"); v.Code != 0 || !strings.Contains(v.Stdout, e.Digest(tamperWolfi)) {
					t.Errorf("the good image does not verify after the failing build and gc: %s", v)
				}
			},
		},
		{
			Name: "publish: a spec whose last build failed a post-build check is refused",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperShellPackage(t, e)
				if r := e.Build(t, "--all"); r.Code != exitFindings {
					t.Fatalf("the hostile build should fail: %s", r)
				}
			},
			Detect: func(t *testing.T, e *tamperEnv) cliRun {
				// No registry listens there: the refusal comes before any request.
				return hicCLI(t, nil, "-C", e.Catalog, "publish", "--layout", e.OCI(), "--attempts", "1", "127.0.0.1:9/hic")
			},
			Exit: exitFindings,
			Want: []string{"publish: refusing 1 spec", tamperWolfi, "fs-shell", "shell binary /bin/sh", "nothing was pushed"},
		},
	}
}

// tamperShellPackage replaces the mirror's wolfi x86_64 app package with
// one that also ships /bin/sh (a runtime image must have no shell) and
// re-signs the index with the mirror's own key: a repository that is
// trusted and hostile.
func tamperShellPackage(t *testing.T, e *tamperEnv) {
	t.Helper()
	dir := filepath.Join(e.Mirror, "wolfi", "x86_64")
	idxPath := filepath.Join(dir, "APKINDEX.tar.gz")
	key, err := apkrepo.LoadKey(filepath.Join(e.Mirror, "signing-keys", "wolfi-signing.rsa"))
	if err != nil {
		t.Fatal(err)
	}
	var orig *apk.Package
	f, err := os.Open(idxPath)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := apk.IndexFromArchive(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range idx.Packages {
		if p.Name == "app" && p.Version == "1.0.0-r0" {
			orig = p
		}
	}
	if orig == nil {
		t.Fatal("the mirror has no app-1.0.0-r0 for x86_64")
	}
	evil, err := apkrepo.BuildAPK(apkrepo.Package{Name: "app", Version: "1.0.0-r0", Arch: "x86_64", Origin: orig.Origin,
		Description: orig.Description, License: orig.License, URL: orig.URL, Depends: orig.Dependencies, Provides: orig.Provides,
		Files: []apkrepo.File{{Path: "usr/bin/app", Mode: 0o755, Data: []byte("#!/bin/sh\n")}, {Path: "bin/sh", Mode: 0o755, Data: []byte("\x7fELF evil shell")}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := apk.ParsePackage(t.Context(), bytes.NewReader(evil), uint64(len(evil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app-1.0.0-r0.apk"), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	bldResign(t, idxPath, bldMirrorSigner(t, e.Mirror, "wolfi-signing"), func(ix *apk.APKIndex) {
		for i, p := range ix.Packages {
			if p.Name == "app" && p.Version == "1.0.0-r0" {
				ix.Packages[i] = parsed
			}
		}
	})
	// A package cache that still holds the good app-1.0.0-r0 is the
	// package-cache attacks' subject (tamper_input); here the builder
	// fetches from the mirror.
	if err := os.RemoveAll(filepath.Join(e.Out, "cache")); err != nil {
		t.Fatal(err)
	}
}

// tamperHasRejected reports whether index.json lists digest as the
// untagged rejected image of spec.
func tamperHasRejected(t *testing.T, e *tamperEnv, spec, digest string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.OCI(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Digest.String() == digest && d.Annotations[store.AnnotationRejected] == spec &&
			d.Annotations[store.AnnotationRefName] == "" && d.Annotations[store.AnnotationSpecRef] == "" {
			return true
		}
	}
	return false
}
