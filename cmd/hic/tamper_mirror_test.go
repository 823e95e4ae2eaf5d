package main

// Tamper suite: attacks on the mirror a build reads (issue 10, "mirrors are
// exact", "no rollback", "keys pinned by content"), detected by hic build.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"chainguard.dev/apko/pkg/apk/apk"

	"github.com/hic-build/hic/compiler/apkrepo"
)

func init() { tamperRegister("mirror", tamperMirrorCases) }

func tamperMirrorCases() []tamperCase {
	build := func(t *testing.T, e *tamperEnv) cliRun { return e.Build(t, "--all") }
	manifest := func(src string) func(t *testing.T, e *tamperEnv) {
		return func(t *testing.T, e *tamperEnv) {
			if err := os.WriteFile(filepath.Join(e.Mirror, "mirrors.json"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return []tamperCase{
		{
			Name:   "mirror: mirrors.json covers no repository (no network fallback)",
			Attack: manifest("{}\n"),
			Detect: build,
			Exit:   2,
			Want:   []string{"no mirror covers", "https://packages.wolfi.dev/os", tamperWolfi, "hic mirror"},
		},
		{
			Name: "mirror: mirrors.json names a repository URL the catalog does not use",
			Attack: manifest(`{"mirrors": [
  {"url": "https://dl-cdn.alpinelinux.org/alpine/v3.23/community", "dir": "alpine-3.23/community"},
  {"url": "https://dl-cdn.alpinelinux.org/alpine/v3.23/main", "dir": "alpine-3.23/main"},
  {"url": "https://packages.wolfi.dev/os-typo", "dir": "wolfi"}
]}
`),
			Detect: build,
			Exit:   2,
			Want:   []string{"no mirror covers repository https://packages.wolfi.dev/os", "https://packages.wolfi.dev/os-typo", "hic mirror"},
		},
		{
			Name: "mirror: signing key swapped for the attacker's and the index re-signed with it",
			Attack: func(t *testing.T, e *tamperEnv) {
				k, err := apkrepo.GenerateKey("wolfi-signing")
				if err != nil {
					t.Fatal(err)
				}
				attacker := filepath.Join(e.Dir, "attacker")
				if _, _, err := k.WriteFiles(filepath.Join(attacker, "signing-keys")); err != nil {
					t.Fatal(err)
				}
				pub, err := os.ReadFile(filepath.Join(attacker, "signing-keys", "wolfi-signing.rsa.pub"))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(e.Mirror, "wolfi", "keys", "wolfi-signing.rsa.pub"), pub, 0o644); err != nil {
					t.Fatal(err)
				}
				s := bldMirrorSigner(t, attacker, "wolfi-signing")
				for _, arch := range []string{"x86_64", "aarch64"} {
					bldResign(t, filepath.Join(e.Mirror, "wolfi", arch, "APKINDEX.tar.gz"), s, nil)
				}
			},
			Detect: build,
			Want:   []string{"wolfi/keys/wolfi-signing.rsa.pub", "has fingerprint sha256:", "pins sha256:"},
		},
		{
			// The generated mirror signs Alpine's repositories with a key of
			// its own, which mirrors.json pins; without that pin the key
			// file must carry Alpine's real key, as the schema pins it.
			Name: "mirror: mirrors.json's key pins deleted, leaving the mirror's own key under Alpine's key name",
			Attack: func(t *testing.T, e *tamperEnv) {
				p := filepath.Join(e.Mirror, "mirrors.json")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string][]map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				for _, mm := range m["mirrors"] {
					delete(mm, "keys")
				}
				if b, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			// A fresh runner: nothing cached, so the mirror is read.
			Detect: func(t *testing.T, e *tamperEnv) cliRun {
				return hicCLI(t, nil, "-C", e.Catalog, "build", "--today", tamperToday, "--jobs", "2",
					"--mirrors", e.Mirror, "--out", filepath.Join(e.Dir, "fresh-out"), "--key", e.Key, tamperAlpine)
			},
			Want: []string{
				tamperAlpine, "keys/alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub", "has fingerprint sha256:",
				"the catalog's keyring pins sha256:4e0c26751a474db486b0a8f37e37ff02e12465e8cea8ef08614ac173cb870f28",
			},
		},
		{
			Name: "mirror: tzdata rolled back in an index signed by the right key",
			Attack: func(t *testing.T, e *tamperEnv) {
				s := bldMirrorSigner(t, e.Mirror, "wolfi-signing")
				for _, arch := range []string{"x86_64", "aarch64"} {
					bldResign(t, filepath.Join(e.Mirror, "wolfi", arch, "APKINDEX.tar.gz"), s, func(idx *apk.APKIndex) {
						kept := idx.Packages[:0]
						for _, p := range idx.Packages {
							if p.Name != "tzdata" || p.Version == "0.0.0-r0" {
								kept = append(kept, p)
							}
						}
						idx.Packages = kept
					})
				}
			},
			Detect: build,
			Exit:   1,
			Want:   []string{tamperWolfi, "no-rollback", "tzdata moves back from 2025b-r0 to 0.0.0-r0", "https://packages.wolfi.dev/os"},
		},
	}
}
