package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/verify"
)

// TestVerifyLayoutTampered changes a signed build's layout on disk: one byte
// of an attestation blob, and a tag entry moved to another image.
func TestVerifyLayoutTampered(t *testing.T) {
	dir := t.TempDir()
	hicCLI(t, nil, "keygen", "--out", dir).must(t, 0)
	pub := filepath.Join(dir, sign.PublicKeyFile)
	mirror, out := filepath.Join(dir, "mirror"), filepath.Join(dir, "out")
	hicCLI(t, nil, "-C", attCatalog, "mirror", "--out", mirror, "web").must(t, 0)
	hicCLI(t, nil, "-C", attCatalog, "build", "web", "--mirrors", mirror, "--out", out, "--today", attToday, "--key", filepath.Join(dir, sign.PrivateKeyFile)).must(t, 0)
	r, err := report.ReadReport(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	oci := filepath.Join(out, "oci")
	digest := map[string]string{}
	for _, s := range r.Specs {
		digest[s.Ref] = s.ImageDigest
	}
	// verifyFails wants check to fail, and with only, no other.
	verifyFails := func(t *testing.T, ref, check string, only bool) {
		t.Helper()
		v := hicCLI(t, nil, "-C", attCatalog, "verify", ref, "--layout", oci, "--key", pub, "--format", "json")
		var res verify.Result
		if err := json.Unmarshal([]byte(v.Stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, v)
		}
		if v.Code != exitFindings || !slices.Contains(res.Failed(), check) || (only && len(res.Failed()) != 1) {
			t.Errorf("verify %s: exit %d, failed %v, want %s (only: %v)\n%s", ref, v.Code, res.Failed(), check, only, v.Stdout)
		}
	}
	hicCLI(t, nil, "-C", attCatalog, "verify", "web:2", "--layout", oci, "--key", pub).must(t, 0)

	t.Run("tag moved", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(oci, "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		dev, rt := digest["web:2-wolfi-dev"], digest["web:2-wolfi-runtime"]
		var idx map[string]any
		if err := json.Unmarshal(b, &idx); err != nil {
			t.Fatal(err)
		}
		for _, m := range idx["manifests"].([]any) {
			m := m.(map[string]any)
			if ann, _ := m["annotations"].(map[string]any); ann["org.opencontainers.image.ref.name"] == "web:latest" {
				if m["digest"] != rt {
					t.Fatalf("web:latest is %v, want %s", m["digest"], rt)
				}
				m["digest"] = dev
				// The dev index has another size.
				for _, n := range idx["manifests"].([]any) {
					if n.(map[string]any)["digest"] == dev {
						m["size"] = n.(map[string]any)["size"]
					}
				}
			}
		}
		nb, _ := json.Marshal(idx)
		if err := os.WriteFile(filepath.Join(oci, "index.json"), nb, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(filepath.Join(oci, "index.json"), b, 0o644)
		verifyFails(t, "web:latest", verify.CheckTag, true)
		hicCLI(t, nil, "-C", attCatalog, "verify", "web:2", "--layout", oci, "--key", pub).must(t, 0)
	})

	t.Run("one byte changed in an attestation blob", func(t *testing.T) {
		h, _ := v1.NewHash(digest["web:2-wolfi-runtime"])
		refs, err := attest.Referrers(t.Context(), layout.Path(oci), h, attest.PredicateHardening)
		if err != nil || len(refs) != 1 {
			t.Fatalf("hardening referrers of %s: %v %v", h, refs, err)
		}
		blob := filepath.Join(oci, "blobs", "sha256", refs[0].Envelope.Digest.Hex)
		b, err := os.ReadFile(blob)
		if err != nil {
			t.Fatal(err)
		}
		nb := []byte(string(b))
		nb[len(nb)/2] ^= 1
		if err := os.WriteFile(blob, nb, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(blob, b, 0o644)
		verifyFails(t, "web:2-wolfi-runtime", verify.CheckAttestationSignatures, false)
	})
}
