package publish

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hic-build/hic/compiler/sign"
)

// With a Signer, publish replaces each image's signatures with new ones by
// the signer's key, and pushes the layout's attestations as they are. It
// first checks, image by image, that those attestations are that key's:
// image signatures by one key over attestations by another verify with
// neither key (hic verify, cosign verify-attestation), and signing an image
// that has no attestation (built --unsigned) would give a cosign-valid
// image that hic never attested: no provenance, SBOM, hardening report or
// VEX. The layout's index.json names a key on each signed entry
// (attest.AnnotationKeyID), but only as a label: the envelopes are
// verified.

// RefusedImage is one image Options.Signer will not sign.
type RefusedImage struct {
	// Name is the image (repository:tag), SpecRef its spec.
	Name, SpecRef string
	// Unsigned says the image has no attestation at all (built
	// --unsigned); otherwise Bad of its Attestations envelopes do not
	// verify with the signer's key, and Named are the keys index.json
	// names for them.
	Unsigned          bool
	Attestations, Bad int
	Named             []string
}

// KeyRefusal is PublishImages's error, before anything is pushed, when
// Options.Signer is set and some images' attestations in the layout are not
// signed by its key, or they have none.
type KeyRefusal struct {
	// KeyID is the signer's key id.
	KeyID  string
	Images []RefusedImage
}

func (e *KeyRefusal) Error() string {
	var b strings.Builder
	n := "1 image"
	if len(e.Images) != 1 {
		n = fmt.Sprintf("%d images", len(e.Images))
	}
	fmt.Fprintf(&b, "refusing to sign %s with key %s (nothing was pushed):", n, short16(e.KeyID))
	for _, r := range e.Images {
		spec := r.SpecRef
		if spec == "" {
			fmt.Fprintf(&b, "\n  %s: ", r.Name)
			spec = "SPEC"
		} else {
			fmt.Fprintf(&b, "\n  %s (spec %s): ", r.Name, r.SpecRef)
		}
		if r.Unsigned {
			fmt.Fprintf(&b, "it was built unsigned: it has no attestations, and signing it here would vouch for an image hic did not attest; rebuild it with --key (hic build %s --key KEY), or publish it without --key", spec)
			continue
		}
		if r.Bad == r.Attestations {
			fmt.Fprintf(&b, "its %d attestations in the layout are not signed by key %s", r.Attestations, short16(e.KeyID))
		} else {
			fmt.Fprintf(&b, "%d of its %d attestations in the layout are not signed by key %s", r.Bad, r.Attestations, short16(e.KeyID))
		}
		var other []string
		for _, k := range r.Named {
			if k != e.KeyID {
				other = append(other, short16(k))
			}
		}
		if len(other) > 0 {
			fmt.Fprintf(&b, " (index.json names key %s)", strings.Join(other, ", "))
		}
		fmt.Fprintf(&b, ": publish it with the key that signed them, or without --key (its own signatures), or rebuild it with this key (hic build %s --key KEY --replace-signed)", spec)
	}
	return b.String()
}

// checkSignedBy returns a *KeyRefusal for the images whose attestations
// (their referrers, read) are not all signed by s's key, or that have none.
func checkSignedBy(ctx context.Context, s sign.Signer, images []Image) error {
	v, err := sign.NewVerifier(s.Public())
	if err != nil {
		return err
	}
	refusal := &KeyRefusal{KeyID: s.KeyID()}
	for _, img := range images {
		r := RefusedImage{Name: img.Name(), SpecRef: img.SpecRef}
		for _, ref := range img.Referrers {
			m, err := ref.Artifact.Manifest()
			if err != nil {
				return fmt.Errorf("%s: referrer: %w", img.Name(), err)
			}
			counted := false
			for _, l := range m.Layers {
				if l.MediaType != MediaTypeDSSE && l.MediaType != mediaTypeInToto {
					continue
				}
				data, err := readBlob(ref.Artifact, l.Digest)
				if err != nil {
					return fmt.Errorf("%s: referrer of %s: layer %s: %w", img.Name(), ref.Subject.Digest, l.Digest, err)
				}
				r.Attestations++
				counted = true
				env, err := sign.ParseEnvelope(data)
				if err == nil {
					_, err = sign.VerifyEnvelope(ctx, v, env)
				}
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					r.Bad++
				}
			}
			if counted && ref.KeyID != "" && !slices.Contains(r.Named, ref.KeyID) {
				r.Named = append(r.Named, ref.KeyID)
			}
		}
		r.Unsigned = r.Attestations == 0
		if r.Unsigned || r.Bad > 0 {
			slices.Sort(r.Named)
			refusal.Images = append(refusal.Images, r)
		}
	}
	if len(refusal.Images) > 0 {
		return refusal
	}
	return nil
}

// short16 is a key id as hic's messages give it (16 hex digits).
func short16(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
