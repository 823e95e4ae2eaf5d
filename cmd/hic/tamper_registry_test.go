package main

// Tamper suite: attacks on images published to a registry (a real
// distribution registry on 127.0.0.1, one repository prefix per case): tags,
// stored blobs, images pushed by someone without the key, signatures copied
// between images, attestations deleted; detected by hic verify --registry.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/testenv"
)

func init() { tamperRegister("registry", tamperRegistryCases) }

// tamperReg is the suite's one registry, started on first use.
var tamperReg struct {
	once          sync.Once
	addr, storage string
	mu            sync.Mutex
	n             int // cases published so far
}

// tamperRegistry starts the registry (for the whole TestTamper run: parent
// is the top-level test) and publishes the case's good layout below a
// prefix of its own; it returns REGISTRY/PREFIX.
func tamperRegistry(t *testing.T, e *tamperEnv) string {
	t.Helper()
	tamperReg.once.Do(func() { tamperReg.addr, tamperReg.storage = testenv.StartRegistryStorage(e.base.parent) })
	tamperReg.mu.Lock()
	tamperReg.n++
	prefix := fmt.Sprintf("%s/case%d", tamperReg.addr, tamperReg.n)
	tamperReg.mu.Unlock()
	if r := hicCLI(t, nil, "-C", e.Catalog, "publish", "--layout", e.OCI(), prefix); r.Code != 0 {
		t.Fatalf("publish the good layout: %s", r)
	}
	e.registry = prefix
	return prefix
}

func tamperRegistryCases() []tamperCase {
	verify := func(ref string) func(t *testing.T, e *tamperEnv) cliRun {
		return func(t *testing.T, e *tamperEnv) cliRun {
			return hicCLI(t, nil, "-C", e.Catalog, "verify", ref, "--registry", e.registry, "--key", e.Pub)
		}
	}
	ref := func(t *testing.T, s string) name.Reference {
		t.Helper()
		r, err := name.ParseReference(s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// userZero pushes, as someone without the key, app:latest rebuilt with
	// config User "0" on linux/amd64; it returns the old and new index digests.
	userZero := func(t *testing.T, e *tamperEnv) (v1.Hash, v1.Hash) {
		prefix := tamperRegistry(t, e)
		tag := ref(t, prefix+"/app:latest")
		idx, err := remote.Index(tag)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := idx.Digest()
		im, _ := idx.IndexManifest()
		var amd v1.Descriptor
		for _, d := range im.Manifests {
			if d.Platform != nil && d.Platform.Architecture == "amd64" {
				amd = d
			}
		}
		img, err := idx.Image(amd.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cfg := cf.Config
		cfg.User = "0"
		root, err := mutate.Config(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		nidx := mutate.AppendManifests(mutate.RemoveManifests(idx, func(d v1.Descriptor) bool { return d.Digest == amd.Digest }),
			mutate.IndexAddendum{Add: root, Descriptor: v1.Descriptor{Platform: amd.Platform, MediaType: amd.MediaType}})
		if err := remote.WriteIndex(tag, nidx); err != nil {
			t.Fatal(err)
		}
		h, _ := nidx.Digest()
		return old, h
	}
	return []tamperCase{
		{
			// --cache-from trusts a registry's hic-input-<hex> tag only
			// with a signature by the build's key: someone who can push
			// tags cannot make a build skip a spec for an image of theirs.
			Name: "registry: image pushed without the key under a spec's hic-input tag, for --cache-from",
			Attack: func(t *testing.T, e *tamperEnv) {
				_, forged := userZero(t, e)
				input := bldReport(t, e.Out)[tamperWolfi].InputDigest
				tag, ok := publish.InputTag(input)
				if !ok {
					t.Fatalf("input digest %q", input)
				}
				desc, err := remote.Get(ref(t, e.registry+"/app@"+forged.String()))
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Tag(ref(t, e.registry+"/app:"+tag).(name.Tag), desc); err != nil {
					t.Fatal(err)
				}
				e.note = forged.String()
			},
			// A fresh runner: nothing in its layout, so it asks the registry.
			Detect: func(t *testing.T, e *tamperEnv) cliRun {
				return hicCLI(t, nil, "-C", e.Catalog, "build", "--today", tamperToday, "--jobs", "2", "--mirrors", e.Mirror,
					"--out", filepath.Join(e.Dir, "fresh-out"), "--key", e.Key, "--cache-from", e.registry, tamperWolfi)
			},
			ExitZero: true,
			Want:     []string{"registry cache lookup failed; building", tamperWolfi, "is not trusted", "no valid signature by key"},
			Check: func(t *testing.T, e *tamperEnv, r cliRun) {
				if !strings.Contains(r.output(), e.note) {
					t.Errorf("the warning does not name the forged image %s", e.note)
				}
				sr := bldReport(t, filepath.Join(e.Dir, "fresh-out"))[tamperWolfi]
				if sr.Status != report.StatusBuilt || sr.CachedFrom != "" || sr.ImageDigest == e.note {
					t.Errorf("report: status %s, cached from %q, image %s: want the spec built, not the forged image", sr.Status, sr.CachedFrom, sr.ImageDigest)
				}
			},
		},
		{
			Name: "registry: tag moved to another spec's image",
			Attack: func(t *testing.T, e *tamperEnv) {
				prefix := tamperRegistry(t, e)
				desc, err := remote.Get(ref(t, prefix+"/app:1-alpine3.23"))
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Tag(ref(t, prefix+"/app:latest").(name.Tag), desc); err != nil {
					t.Fatal(err)
				}
			},
			Detect: verify("app:latest"),
			Want:   []string{"FAIL", "tag", "app:latest", tamperAlpine},
		},
		{
			Name: "registry: one byte of a layer flipped in the registry's storage",
			Attack: func(t *testing.T, e *tamperEnv) {
				prefix := tamperRegistry(t, e)
				img, err := remote.Image(ref(t, prefix+"/app:1-alpine3.23"), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))
				if err != nil {
					t.Fatal(err)
				}
				m, _ := img.Manifest()
				// The top layer (app's own) is the alpine image's alone: no
				// other case's image shares its blob.
				h := m.Layers[len(m.Layers)-1].Digest
				data := filepath.Join(tamperReg.storage, "docker", "registry", "v2", "blobs", "sha256", h.Hex[:2], h.Hex, "data")
				b, err := os.ReadFile(data)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 1
				if err := os.WriteFile(data, b, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { // the storage is shared by every case: restore it
					b[len(b)/2] ^= 1
					_ = os.WriteFile(data, b, 0o644)
				})
				e.note = h.String()
			},
			Detect: func(t *testing.T, e *tamperEnv) cliRun {
				r := verify(tamperAlpine)(t, e)
				if !strings.Contains(r.output(), e.note) {
					t.Errorf("verify does not name the flipped layer %s", e.note)
				}
				return r
			},
			Want: []string{"FAIL", "blobs", "layer sha256:"},
		},
		{
			Name: "registry: image with config User 0 pushed under a tag without the key",
			Attack: func(t *testing.T, e *tamperEnv) {
				userZero(t, e)
			},
			Detect: verify("app:latest"),
			Want:   []string{"FAIL", "image-signature", "config", `linux/amd64 config User is "0", the spec says "65532"`},
		},
		{
			Name: "registry: the good image's signatures copied onto a pushed image",
			Attack: func(t *testing.T, e *tamperEnv) {
				old, nh := userZero(t, e)
				prefix := e.registry
				for _, suffix := range []string{"sig", "att"} {
					desc, err := remote.Get(ref(t, prefix+"/app:"+old.Algorithm+"-"+old.Hex+"."+suffix))
					if err != nil {
						t.Fatal(err)
					}
					if err := remote.Tag(ref(t, prefix+"/app:"+nh.Algorithm+"-"+nh.Hex+"."+suffix).(name.Tag), desc); err != nil {
						t.Fatal(err)
					}
				}
			},
			Detect: verify("app:latest"),
			Want:   []string{"FAIL", "image-signature", "no valid signature", "attestation-subjects", "config", "User"},
		},
		{
			Name: "registry: every attestation deleted (referrers and .att tags)",
			Attack: func(t *testing.T, e *tamperEnv) {
				prefix := tamperRegistry(t, e)
				repo := ref(t, prefix+"/app:1").Context()
				idx, err := remote.Index(repo.Tag("1"))
				if err != nil {
					t.Fatal(err)
				}
				h, _ := idx.Digest()
				im, _ := idx.IndexManifest()
				subjects := []v1.Hash{h}
				for _, d := range im.Manifests {
					subjects = append(subjects, d.Digest)
				}
				for _, s := range subjects {
					refs, err := remote.Referrers(repo.Digest(s.String()))
					if err != nil {
						t.Fatal(err)
					}
					rm, _ := refs.IndexManifest()
					for _, d := range rm.Manifests {
						if d.ArtifactType == "application/vnd.in-toto+json" {
							if err := remote.Delete(repo.Digest(d.Digest.String())); err != nil {
								t.Fatal(err)
							}
						}
					}
					att := repo.Tag(s.Algorithm + "-" + s.Hex + ".att")
					if desc, err := remote.Head(att); err == nil {
						if err := remote.Delete(repo.Digest(desc.Digest.String())); err != nil {
							t.Fatal(err)
						}
					}
				}
			},
			Detect: verify("app:1"),
			Want:   []string{"FAIL", "attestation-signatures", "sbom", "no signed SPDX SBOM", "provenance-packages", "no signed SLSA provenance", "hardening"},
		},
		{
			Name: "registry: the alpine image's attestation tag attached to the wolfi image",
			Attack: func(t *testing.T, e *tamperEnv) {
				prefix := tamperRegistry(t, e)
				w := tamperHash(t, e.Digest(tamperWolfi))
				a := tamperHash(t, e.Digest(tamperAlpine))
				desc, err := remote.Get(ref(t, prefix+"/app:sha256-"+a.Hex+".att"))
				if err != nil {
					t.Fatal(err)
				}
				if err := remote.Tag(ref(t, prefix+"/app:sha256-"+w.Hex+".att").(name.Tag), desc); err != nil {
					t.Fatal(err)
				}
			},
			Detect: verify("app:latest"),
			Want:   []string{"FAIL", "attestation-subjects", "is about", "not it"},
		},
	}
}
