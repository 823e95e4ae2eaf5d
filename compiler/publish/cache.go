package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
// whole image is there. A lookup is one HEAD request; nothing is
// downloaded.
type RegistryCache struct {
	Dest Destination
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
	return r.Name(), desc.Digest, true, nil
}
