package attest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/testenv"
)

// Acceptance test: what attest writes into a layout, pushed by publish to the
// real distribution registry, is verified by the real cosign CLI with the key
// hic keygen's format writes, and rejected with another key.
func TestCosignVerifiesLayoutReferrers(t *testing.T) {
	ctx := context.Background()
	cosign := testenv.Tool(t, "cosign")
	reg := testenv.StartRegistry(t)
	dir := t.TempDir()
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	size, _ := idx.Size()
	mt, _ := idx.MediaType()
	im, _ := idx.IndexManifest()
	spdx, err := os.ReadFile("testdata/spdx-x86_64.json")
	if err != nil {
		t.Fatal(err)
	}
	img := attest.Image{Index: attest.Subject{Name: "hic/nginx", Digest: d, MediaType: mt, Size: size}, IndexSPDX: spdx}
	for i, m := range im.Manifests {
		img.Platforms = append(img.Platforms, attest.Platform{
			Platform: []string{"linux/amd64", "linux/arm64"}[i],
			Manifest: attest.Subject{Name: "hic/nginx", Digest: m.Digest, MediaType: m.MediaType, Size: m.Size},
			SPDX:     spdx,
			Packages: []attest.Package{{Name: "busybox", Version: "1.37.0-r0", Arch: "x86_64",
				Repository: "https://packages.wolfi.dev/os", Checksum: "Q1CgsPPT5aYHGCk6S1xtfo+QEjRWc="}},
		})
	}

	// The key pair as hic keygen writes it.
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "hic.pub")
	if err := sign.WriteKeyPair(k, filepath.Join(dir, "hic.key"), pub, false); err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sign.GenerateKey()
	otherPub := filepath.Join(dir, "other.pub")
	if err := sign.WriteKeyPair(other, filepath.Join(dir, "other.key"), otherPub, false); err != nil {
		t.Fatal(err)
	}

	atts, err := attest.ForImage(ctx, s, attest.ImageInput{
		Image: img,
		Provenance: attest.Provenance{
			SpecRef: "nginx:1.29-wolfi-runtime", CompiledSpecDigest: "sha256:" + strings.Repeat("e", 64),
			Distro: "wolfi", HicVersion: "test", ApkoVersion: "v0.30.34",
		},
		Hardening: attest.Hardening{Rules: []string{"nonroot"}},
		Tool:      attest.Tool{Name: "hic", Version: "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := attest.SignImages(ctx, s, "hic/nginx", img.Index, img.Platforms[0].Manifest)
	if err != nil {
		t.Fatal(err)
	}
	// Stored the way hic build stores them: one store.Put of the image and
	// every referrer.
	var refs []store.Referrer
	for _, a := range atts {
		for _, sub := range a.Subjects {
			r, err := attest.AttestationReferrer(sub, a.PredicateType, a.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, r)
		}
	}
	for _, sg := range sigs {
		r, err := attest.SignatureReferrer(sg)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, store.Entry{SpecRef: "nginx:1.29-wolfi-runtime", Refs: []string{"hic/nginx:1.29"}}, idx, refs...); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	p := layout.Path(filepath.Join(dir, "oci"))

	if err := publish.Publish(ctx, p, reg+"/cat", publish.Options{}); err != nil {
		t.Fatal(err)
	}

	tagRef := reg + "/cat/hic/nginx:1.29"
	amd64Ref := reg + "/cat/hic/nginx@" + img.Platforms[0].Manifest.Digest.String()
	flags := []string{"--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry"}
	cases := []struct {
		name string
		args []string
		ok   bool
	}{
		{"verify tag", []string{"verify", "--key", pub, tagRef}, true},
		{"verify platform", []string{"verify", "--key", pub, amd64Ref}, true},
		{"provenance", []string{"verify-attestation", "--key", pub, "--type", "slsaprovenance1", tagRef}, true},
		{"provenance of a platform", []string{"verify-attestation", "--key", pub, "--type", "slsaprovenance1", amd64Ref}, true},
		{"spdx", []string{"verify-attestation", "--key", pub, "--type", "spdxjson", amd64Ref}, true},
		{"cyclonedx", []string{"verify-attestation", "--key", pub, "--type", "cyclonedx", tagRef}, true},
		{"cyclonedx of a platform", []string{"verify-attestation", "--key", pub, "--type", "cyclonedx", amd64Ref}, true},
		{"hardening", []string{"verify-attestation", "--key", pub, "--type", attest.PredicateHardening, tagRef}, true},
		{"verify with another key", []string{"verify", "--key", otherPub, tagRef}, false},
		{"provenance with another key", []string{"verify-attestation", "--key", otherPub, "--type", "slsaprovenance1", tagRef}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCosign(ctx, t, cosign, dir, append(tc.args, flags...)...)
			if tc.ok && err != nil {
				t.Errorf("cosign %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			if !tc.ok && err == nil {
				t.Errorf("cosign %s succeeded, want a failure\n%s", strings.Join(tc.args, " "), out)
			}
		})
	}

	// cosign imports the private key hic writes, and derives the same public key.
	t.Run("import-key-pair", func(t *testing.T) {
		prefix := filepath.Join(dir, "imported")
		out, err := runCosign(ctx, t, cosign, dir, "import-key-pair", "--key", filepath.Join(dir, "hic.key"), "--output-key-prefix", prefix)
		if err != nil {
			t.Fatalf("cosign import-key-pair: %v\n%s", err, out)
		}
		got, err := sign.LoadPublicKey(prefix + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(&k.PublicKey) {
			t.Error("cosign's imported public key differs from hic.pub")
		}
	})

	// What was pushed is what the layout holds.
	provs, err := attest.Referrers(ctx, p, d, attest.PredicateSLSAProvenance)
	if err != nil || len(provs) != 1 {
		t.Fatalf("Referrers = %d, %v; want 1", len(provs), err)
	}
	if provs[0].Subject != d {
		t.Errorf("referrer subject %s, want %s", provs[0].Subject, d)
	}
}

func runCosign(ctx context.Context, t *testing.T, bin, home string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Loopback only: cosign looks for Sigstore's TUF root even with a key, so
	// every other address goes to a loopback port where nothing listens.
	deadProxy := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	cmd.Env = []string{
		"HOME=" + home, "PATH=/usr/bin:/bin", "DOCKER_CONFIG=" + home, "TUF_ROOT=" + home + "/tuf",
		"COSIGN_PASSWORD=test",
		"HTTPS_PROXY=" + deadProxy, "HTTP_PROXY=" + deadProxy, "NO_PROXY=127.0.0.1,localhost",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
