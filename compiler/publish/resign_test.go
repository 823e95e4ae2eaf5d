package publish_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
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
	images := writeLayout(t, dir, newKey(t), "hic/alpha")
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
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
