package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/testenv"
	"github.com/hic-build/hic/compiler/verify"
)

// TestAttestations lists and downloads the attestations of a signed image,
// from the layout and from a real registry, and refuses one re-signed with
// another key.
func TestAttestations(t *testing.T) {
	reg := testenv.StartRegistry(t)
	dir := t.TempDir()
	keys, other := filepath.Join(dir, "keys"), filepath.Join(dir, "other")
	hicCLI(t, nil, "keygen", "--out", keys).must(t, 0)
	hicCLI(t, nil, "keygen", "--out", other).must(t, 0)
	pub := filepath.Join(keys, sign.PublicKeyFile)
	mirror, out := filepath.Join(dir, "mirror"), filepath.Join(dir, "out")
	hicCLI(t, nil, "-C", attCatalog, "mirror", "--out", mirror, "web").must(t, 0)
	hicCLI(t, nil, "-C", attCatalog, "build", "web:2-wolfi-runtime", "--mirrors", mirror, "--out", out, "--today", attToday, "--key", filepath.Join(keys, sign.PrivateKeyFile)).must(t, 0)
	oci := filepath.Join(out, "oci")
	prefix := reg + "/hic"
	var pub1 struct {
		Destination string `json:"destination"`
		Images      []struct {
			Ref          string `json:"ref"`
			Attestations int    `json:"attestations"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(hicCLI(t, nil, "-C", attCatalog, "publish", "-o", "json", "--layout", oci, prefix, "web:2-wolfi-runtime").must(t, 0).Stdout), &pub1); err != nil {
		t.Fatalf("publish -o json: %v", err)
	}
	if pub1.Destination != prefix || len(pub1.Images) != 1 || pub1.Images[0].Attestations == 0 {
		t.Errorf("publish -o json: %+v", pub1)
	}

	list := func(t *testing.T, want int, args ...string) []verify.Attestation {
		t.Helper()
		o := hicCLI(t, nil, append([]string{"-C", attCatalog, "attestations", "--key", pub, "-o", "json"}, args...)...).must(t, want).Stdout
		var as []verify.Attestation
		if err := json.Unmarshal([]byte(o), &as); err != nil {
			t.Fatalf("%v\n%s", err, o)
		}
		return as
	}
	// Every type on the index and on both platforms.
	for name, args := range map[string][]string{
		"layout":        {"web:2", "--layout", oci},
		"registry":      {"web:2", "--registry", prefix},
		"full registry": {prefix + "/web:2"},
	} {
		t.Run(name, func(t *testing.T) {
			as := list(t, 0, args...)
			got := map[string]int{}
			for _, a := range as {
				if a.Error != "" {
					t.Errorf("%s %s refused: %s", a.Type, a.Platform, a.Error)
				}
				got[a.Type]++
			}
			for _, typ := range verify.AttestationTypes() {
				if got[typ] != 3 {
					t.Errorf("%d %s attestations, want 3 (index and 2 platforms): %v", got[typ], typ, got)
				}
			}
		})
	}

	t.Run("download SBOMs", func(t *testing.T) {
		dl := filepath.Join(dir, "dl")
		as := list(t, 0, "web:2", "--registry", prefix, "--type", "spdx", "--output-dir", dl)
		if len(as) != 3 {
			t.Fatalf("%d SPDX attestations, want 3", len(as))
		}
		for _, a := range as {
			if a.Type != "spdx" {
				t.Errorf("--type spdx listed %s", a.Type)
			}
			if a.Platform == "index" {
				continue
			}
			slug := strings.ReplaceAll(a.Platform, "/", "-")
			if a.Document != filepath.Join(dl, slug+".spdx.json") || a.Statement != filepath.Join(dl, slug+".spdx.intoto.json") {
				t.Errorf("%s: files %s %s", a.Platform, a.Statement, a.Document)
			}
			doc, err := os.ReadFile(a.Document)
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := inspect.SBOMPackages(doc)
			if err != nil || !slices.ContainsFunc(pkgs, func(p inspect.Package) bool { return p.Name == "web" }) {
				t.Errorf("%s: SPDX document lists %v (%v), want package web", a.Document, pkgs, err)
			}
			b, err := os.ReadFile(a.Statement)
			if err != nil {
				t.Fatal(err)
			}
			st, err := attest.ParseStatement(b)
			if err != nil {
				t.Fatal(err)
			}
			if h, _ := v1.NewHash(a.Subject); !slices.Contains(st.SubjectDigests(), h) {
				t.Errorf("%s is about %v, not %s", a.Statement, st.SubjectDigests(), a.Subject)
			}
		}
		ents, _ := os.ReadDir(dl)
		if len(ents) != 6 {
			t.Errorf("%d files in %s, want 6 (3 statements, 3 documents)", len(ents), dl)
		}
	})

	t.Run("a type the image has none of", func(t *testing.T) {
		// Exit 1, as cosign verify-attestation --type: nothing verified.
		if as := list(t, exitFindings, "web:2", "--layout", oci, "--type", "https://example.com/none/v1"); len(as) != 0 {
			t.Errorf("listed %+v", as)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"web:2", "--layout", oci, "--type", "sbom"},
			{"web:9", "--layout", oci},
			{"web:2", "--layout", oci, "-o", "yaml"},
			{"web:2", "--layout", oci, "--out", ""},
		} {
			if r := hicCLI(t, nil, append([]string{"-C", attCatalog, "attestations", "--key", pub}, args...)...); r.Code != exitUsage || !strings.HasPrefix(r.Stderr, "hic: ") {
				t.Errorf("%s\nwant exit %d", r, exitUsage)
			}
		}
	})

	t.Run("re-signed with another key", func(t *testing.T) {
		repo, err := name.NewRepository(prefix + "/web")
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Get(repo.Tag("2"))
		if err != nil {
			t.Fatal(err)
		}
		signer, err := sign.LoadSigner(filepath.Join(other, sign.PrivateKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		attReplaceEnvelope(t, repo, desc.Digest, attest.PredicateCycloneDX, func(env []byte) []byte {
			return attResign(t, signer, attPayload(t, env))
		})
		dl := filepath.Join(dir, "dl2")
		as := list(t, exitFindings, "web:2", "--registry", prefix, "--type", "cyclonedx", "--out", dl)
		refused := 0
		for _, a := range as {
			if a.Error != "" {
				refused++
				if a.Platform != "index" || a.Statement != "" || !strings.Contains(a.Error, "not signed by key") {
					t.Errorf("refused %+v", a)
				}
			}
		}
		if refused != 1 {
			t.Errorf("%d refused, want the index's CycloneDX: %+v", refused, as)
		}
		// The registry holds the envelope twice, as a referrer and under
		// cosign's .att tag: the untouched copy is written, the other not.
		ents, _ := os.ReadDir(dl)
		if len(ents) != 6 {
			t.Errorf("%d files in %s, want 6 (3 verified statements and their documents)", len(ents), dl)
		}
		text := hicCLI(t, nil, "-C", attCatalog, "attestations", "--key", pub, "web:2", "--registry", prefix, "--type", "cyclonedx").Stdout
		if !strings.Contains(text, "REFUSED: not signed by key") || !strings.Contains(text, "3 attestations verified with key") || !strings.Contains(text, "1 refused") {
			t.Errorf("text output:\n%s", text)
		}
	})
}
