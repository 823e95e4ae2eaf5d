package publish_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/sign"
)

func TestRegistryOptions(t *testing.T) {
	o := publish.RegistryOptions{InsecureHosts: []string{"registry:5000", "ci-registry"}}
	for host, want := range map[string]bool{
		"registry:5000":    true,
		"registry:5001":    false,
		"ci-registry:443":  true,
		"ci-registry":      true,
		"127.0.0.1:5000":   true,
		"localhost":        true,
		"[::1]:5000":       true,
		"ghcr.io":          false,
		"registry.example": false,
	} {
		if got := o.Insecure(host); got != want {
			t.Errorf("Insecure(%q) = %v, want %v", host, got, want)
		}
	}
	if !(publish.RegistryOptions{PlainHTTP: true}).Insecure("ghcr.io") {
		t.Error("PlainHTTP: ghcr.io is not insecure")
	}
	d, err := o.ParseDestination("registry:5000/hic")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := d.Repository("nginx"); r.Scheme() != "http" {
		t.Errorf("registry:5000/hic/nginx scheme %s, want http", r.Scheme())
	}
	if d, _ := publish.ParseDestination("registry:5000/hic"); func() string { r, _ := d.Repository("nginx"); return r.Scheme() }() != "https" {
		t.Error("without --insecure-registry, registry:5000 is not spoken to over https")
	}
	for _, bad := range []string{"http://registry:5000", "registry:5000/hic", "", "UPPER CASE"} {
		if err := (publish.RegistryOptions{InsecureHosts: []string{bad}}).Validate(); err == nil {
			t.Errorf("Validate(%q): no error", bad)
		}
	}
}

// TestPublishSignsForDestination publishes with a Signer: the image and each
// platform manifest carry one signature, naming the repository pushed to.
func TestPublishSignsForDestination(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	// The layout's attestations are the signer's: publish refuses to sign
	// over another key's (TestPublishSignerRefuses).
	images := writeLayout(t, dir, key{k}, "hic/alpha")
	s, err := sign.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewVerifier(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish.Publish(ctx, layout.Path(dir), reg+"/cat", publish.Options{Signer: s}); err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(reg + "/cat/hic/alpha")
	if err != nil {
		t.Fatal(err)
	}
	im, err := images[0].index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	subjects := []v1.Hash{images[0].digest}
	for _, m := range im.Manifests {
		subjects = append(subjects, m.Digest)
	}
	for _, h := range subjects {
		img, err := remote.Image(repo.Tag(publish.CosignTag(h, "sig")))
		if err != nil {
			t.Fatalf("%s.sig: %v", h, err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Layers) != 1 {
			t.Fatalf("%s.sig has %d layers, want 1 (the layout's signature is replaced)", h, len(m.Layers))
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := ls[0].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		payload, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, digest, err := sign.ParseSimpleSigningPayload(payload)
		if err != nil {
			t.Fatal(err)
		}
		if got != repo.Name() || digest != h {
			t.Errorf("%s.sig names %s@%s, want %s@%s", h, got, digest, repo.Name(), h)
		}
		if err := sign.VerifyBlob(ctx, v, payload, m.Layers[0].Annotations[sign.CosignSignatureAnnotation]); err != nil {
			t.Errorf("%s.sig: %v", h, err)
		}
	}
}

// TestPublishSignerRefuses: with a Signer, an image whose attestations in
// the layout another key signed is refused, and so is one that has none
// (built unsigned), before anything is pushed; without a Signer both are
// pushed with the layout's own signatures.
func TestPublishSignerRefuses(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	reg := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	ka, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	writeLayout(t, dir, key{ka}, "hic/alpha", "hic/beta")
	unsigned, err := random.Index(256, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := layout.Path(dir).AppendIndex(unsigned, layout.WithAnnotations(map[string]string{
		publish.AnnotationRefName: "hic/gamma:1", publish.AnnotationSpecRef: "catalog/hic/gamma"})); err != nil {
		t.Fatal(err)
	}
	signerA, err := sign.NewSigner(ka)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signerB, err := sign.NewSigner(kb)
	if err != nil {
		t.Fatal(err)
	}
	pushed := func(t *testing.T) []string {
		t.Helper()
		repos, err := remote.Catalog(ctx, mustRegistry(t, reg))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(repos)
		return repos
	}
	for _, c := range []struct {
		name   string
		signer sign.Signer
		refs   []string
		want   []string // refused images, "!" before an unsigned one
	}{
		{"another key", signerB, []string{"hic/alpha", "hic/beta"}, []string{"hic/alpha:1.0", "hic/beta:1.1"}},
		{"unsigned", signerA, []string{"hic/alpha", "hic/gamma"}, []string{"!hic/gamma:1"}},
		{"both", signerB, nil, []string{"hic/alpha:1.0", "hic/beta:1.1", "!hic/gamma:1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := publish.Publish(ctx, layout.Path(dir), reg+"/cat", publish.Options{Signer: c.signer}, c.refs...)
			var kr *publish.KeyRefusal
			if !errors.As(err, &kr) {
				t.Fatalf("Publish: %v, want a *KeyRefusal", err)
			}
			var got []string
			for _, r := range kr.Images {
				if r.Unsigned {
					got = append(got, "!"+r.Name)
					if r.Attestations != 0 || !strings.Contains(err.Error(), r.Name+" (spec catalog/hic/gamma): it was built unsigned: it has no attestations") {
						t.Errorf("unsigned %+v: %v", r, err)
					}
					continue
				}
				got = append(got, r.Name)
				if r.Attestations != 2 || r.Bad != 2 {
					t.Errorf("%s: %d of %d attestations bad, want 2 of 2", r.Name, r.Bad, r.Attestations)
				}
			}
			if !slices.Equal(got, c.want) || kr.KeyID != c.signer.KeyID() {
				t.Errorf("refused %q by key %s, want %q by %s", got, kr.KeyID, c.want, c.signer.KeyID())
			}
			if repos := pushed(t); len(repos) != 0 {
				t.Errorf("pushed %v, want nothing", repos)
			}
		})
	}
	// The key that signed them signs them; without a key the layout's own
	// signatures go, and the unsigned image goes unsigned.
	if err := publish.Publish(ctx, layout.Path(dir), reg+"/a", publish.Options{Signer: signerA}, "hic/alpha", "hic/beta"); err != nil {
		t.Fatal(err)
	}
	if err := publish.Publish(ctx, layout.Path(dir), reg+"/plain", publish.Options{}); err != nil {
		t.Fatal(err)
	}
	if got, want := pushed(t), []string{"a/hic/alpha", "a/hic/beta", "plain/hic/alpha", "plain/hic/beta", "plain/hic/gamma"}; !slices.Equal(got, want) {
		t.Errorf("pushed %v, want %v", got, want)
	}
}

func mustRegistry(t *testing.T, reg string) name.Registry {
	t.Helper()
	r, err := name.NewRegistry(reg, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
