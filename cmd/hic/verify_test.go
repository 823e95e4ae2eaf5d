package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/verify"
)

func TestVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	attMust(t, 0, nil, "keygen", "--out", dir)
	pub := filepath.Join(dir, sign.PublicKeyFile)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no key", nil, []string{"verify", "web:2", "--layout", dir}, exitUsage, "no public key"},
		{"bad key", nil, []string{"verify", "web:2", "--layout", dir, "--key", filepath.Join(dir, sign.PrivateKeyFile)}, exitUsage, "verify:"},
		{"bad format", nil, []string{"verify", "web:2", "--key", pub, "--format", "yaml"}, exitUsage, "--format"},
		{"no layout", nil, []string{"verify", "web:2", "--key", pub, "--layout", filepath.Join(dir, "nope")}, exitUsage, "not a directory"},
		{"no ref", nil, []string{"verify", "--key", pub}, exitUsage, "arg"},
		{"unknown image", map[string]string{"HIC_PUBLIC_KEY": pub}, []string{"verify", "web:9", "--layout", attEmptyLayout(t)}, exitUsage, `no image "web:9"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := attRun(t, tc.env, append([]string{"-C", attCatalog}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d; stderr %q, want it to contain %q", code, tc.code, stderr, tc.want)
			}
		})
	}
}

func attEmptyLayout(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "oci")
	if _, err := layout.Write(d, empty.Index); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestVerifyLayoutTampered changes a signed build's layout on disk: one byte
// of an attestation blob, and a tag entry moved to another image.
func TestVerifyLayoutTampered(t *testing.T) {
	dir := t.TempDir()
	attMust(t, 0, nil, "keygen", "--out", dir)
	pub := filepath.Join(dir, sign.PublicKeyFile)
	mirror, out := filepath.Join(dir, "mirror"), filepath.Join(dir, "out")
	attMust(t, 0, nil, "-C", attCatalog, "mirror", "--out", mirror, "web")
	attMust(t, 0, nil, "-C", attCatalog, "build", "web", "--mirrors", mirror, "--out", out, "--today", attToday, "--key", filepath.Join(dir, sign.PrivateKeyFile))
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
		code, o, stderr := attRun(t, nil, "-C", attCatalog, "verify", ref, "--layout", oci, "--key", pub, "--format", "json")
		var res verify.Result
		if err := json.Unmarshal([]byte(o), &res); err != nil {
			t.Fatalf("verify: exit %d: %v\n%s%s", code, err, o, stderr)
		}
		if code != exitFindings || !slices.Contains(res.Failed(), check) || (only && len(res.Failed()) != 1) {
			t.Errorf("verify %s: exit %d, failed %v, want %s (only: %v)\n%s", ref, code, res.Failed(), check, only, o)
		}
	}
	attMust(t, 0, nil, "-C", attCatalog, "verify", "web:2", "--layout", oci, "--key", pub)

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
		attMust(t, 0, nil, "-C", attCatalog, "verify", "web:2", "--layout", oci, "--key", pub)
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
