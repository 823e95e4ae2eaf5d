package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
)

// inputTagPrefix starts the tag an image is pushed under for its input
// digest: hic-input-<hex>, 74 characters, within the 128 a tag may have.
const inputTagPrefix = "hic-input-"

// InputTag is the tag for an input digest ("sha256:<hex>"); ok is false for
// an empty or malformed digest.
func InputTag(inputDigest string) (tag string, ok bool) {
	h, err := v1.NewHash(inputDigest)
	if err != nil || h.Algorithm != "sha256" {
		return "", false
	}
	return inputTagPrefix + h.Hex, true
}

// RegistryCache finds images in a registry by the input digest they were
// built for: publish tags every image it pushes with InputTag, after its
// signatures, attestations and other tags, so the tag's presence means the
// whole image is there. The tag is not trusted for being there: an image
// counts only when its index carries a signature by Verifier's key (from
// cosign's sha256-<hex>.sig tag or a signature referrer), so anyone who can
// push a tag cannot make a build skip a spec for an image of their own. A
// lookup is a HEAD request and the reading of the index's signatures; no
// image blob is downloaded.
type RegistryCache struct {
	Dest Destination
	// Verifier checks the signature of a cached image: the build's own
	// public key, or the one the build was given. Required.
	Verifier *sign.Verifier
	// Keychain authenticates to the registry. Default authn.DefaultKeychain.
	Keychain authn.Keychain
	// Transport is the HTTP transport. Default remote.DefaultTransport.
	Transport http.RoundTripper
}

// Lookup returns the repository and digest of the image pushed for
// inputDigest into the destination's repository for the catalog repository
// repo, or ok false when there is none.
func (c RegistryCache) Lookup(ctx context.Context, repo, inputDigest string) (where string, digest v1.Hash, ok bool, err error) {
	tag, valid := InputTag(inputDigest)
	if !valid {
		return "", v1.Hash{}, false, fmt.Errorf("registry cache: input digest %q is not sha256:<hex>", inputDigest)
	}
	r, err := c.Dest.Repository(repo)
	if err != nil {
		return "", v1.Hash{}, false, fmt.Errorf("registry cache: %w", err)
	}
	kc := c.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if c.Transport != nil {
		opts = append(opts, remote.WithTransport(c.Transport))
	}
	desc, err := remote.Head(r.Tag(tag), opts...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound ||
			// distribution answers a repository it has never seen so.
			strings.Contains(terr.Error(), "NAME_UNKNOWN")) {
			return "", v1.Hash{}, false, nil
		}
		return "", v1.Hash{}, false, fmt.Errorf("registry cache: %s: %w", r.Tag(tag), err)
	}
	if !desc.MediaType.IsIndex() {
		return "", v1.Hash{}, false, fmt.Errorf("registry cache: %s is a %s, want an image index", r.Tag(tag), desc.MediaType)
	}
	if err := c.verifySigned(ctx, r, desc.Digest, opts); err != nil {
		return "", v1.Hash{}, false, fmt.Errorf("registry cache: %s (%s) is not trusted: %w", r.Tag(tag), desc.Digest, err)
	}
	return r.Name(), desc.Digest, true, nil
}

// verifySigned returns nil if the index h of repository r carries a valid
// signature by c.Verifier's key.
func (c RegistryCache) verifySigned(ctx context.Context, r name.Repository, h v1.Hash, opts []remote.Option) error {
	if c.Verifier == nil {
		return errors.New("no key to verify its signature with")
	}
	var sigs []attest.ImageSignature
	add := func(img v1.Image) error {
		s, err := attest.SignaturesIn(img, h)
		sigs = append(sigs, s...)
		return err
	}
	sigTag := r.Tag(h.Algorithm + "-" + h.Hex + ".sig")
	if img, err := remote.Image(sigTag, opts...); err == nil {
		if err := add(img); err != nil {
			return fmt.Errorf("%s: %w", sigTag, err)
		}
	} else if !isNotFound(err) {
		return fmt.Errorf("%s: %w", sigTag, err)
	}
	if idx, err := remote.Referrers(r.Digest(h.String()), opts...); err == nil {
		im, err := idx.IndexManifest()
		if err != nil {
			return fmt.Errorf("referrers of %s: %w", h, err)
		}
		for _, d := range im.Manifests {
			if d.ArtifactType != attest.SignatureArtifactType {
				continue
			}
			img, err := remote.Image(r.Digest(d.Digest.String()), opts...)
			if err != nil {
				return fmt.Errorf("signature %s: %w", d.Digest, err)
			}
			if err := add(img); err != nil {
				return fmt.Errorf("signature %s: %w", d.Digest, err)
			}
		}
	} else if !isNotFound(err) {
		return fmt.Errorf("referrers of %s: %w", h, err)
	}
	for _, s := range sigs {
		if attest.VerifySignature(ctx, c.Verifier, s, h) == nil {
			return nil
		}
	}
	return fmt.Errorf("no valid signature by key %s among %d", c.Verifier.KeyID(), len(sigs))
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound || strings.Contains(terr.Error(), "NAME_UNKNOWN"))
}
