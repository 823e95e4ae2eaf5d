package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/sign"
)

// bareSource serves one image index and no signature or attestation: an
// unsigned image, or (with envs) one whose attestations cannot be read.
type bareSource struct {
	t    *Target
	envs []Envelope
}

func (s bareSource) Resolve(context.Context, string) (*Target, error) { return s.t, nil }
func (s bareSource) Signatures(context.Context, v1.Hash) ([]attest.ImageSignature, error) {
	return nil, nil
}
func (s bareSource) Attestations(_ context.Context, h v1.Hash) ([]Envelope, error) {
	if h != s.t.Digest {
		return nil, nil
	}
	return s.envs, nil
}

func bareTarget(t *testing.T) *Target {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return &Target{Ref: "app:1", Repository: "app", Tag: "1", Index: idx, Digest: h, entrySpec: "app:1-wolfi-runtime"}
}

func testVerifier(t *testing.T) *sign.Verifier {
	t.Helper()
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewVerifier(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkOf(res *Result, name string) Check {
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{Name: name, Detail: "(not run)"}
}

// TestVerifyUnsigned: an image with no signature and no attestation at all
// is unsigned, said once: not blamed on the key, no check about statements
// passes for want of any, and the result names the spec the image claims.
func TestVerifyUnsigned(t *testing.T) {
	res, err := Verify(context.Background(), bareSource{t: bareTarget(t)}, "app:1", Options{Verifier: testVerifier(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !res.Unsigned || res.Spec != "app:1-wolfi-runtime" {
		t.Errorf("OK %v Unsigned %v Spec %q, want false, true, app:1-wolfi-runtime", res.OK, res.Unsigned, res.Spec)
	}
	for name, want := range map[string]string{
		CheckImageSignature:        "the image is unsigned: neither the index nor its 2 platform manifests carry any signature, and it has no attestations (hic build --unsigned makes such images)",
		CheckAttestationSignatures: "no attestations: the image is unsigned (see image-signature)",
		CheckAttestationSubjects:   "not checked: the image is unsigned (see image-signature)",
		CheckSBOM:                  "not checked: the image is unsigned (see image-signature)",
		CheckProvenanceSpec:        "not checked: the image is unsigned (see image-signature)",
		CheckVEX:                   "not checked: the image is unsigned (see image-signature)",
		CheckTag:                   "not checked: the image is unsigned, so no signature names a repository for it (see image-signature)",
	} {
		if c := checkOf(res, name); c.OK || c.Detail != want {
			t.Errorf("%s: ok %v %q\nwant FAIL %q", name, c.OK, c.Detail, want)
		}
	}
}

// TestVerifyRejectedUnsigned: a rejected image (it failed a post-build
// check) is stored unsigned; verify says that is why, not --unsigned.
func TestVerifyRejectedUnsigned(t *testing.T) {
	tg := bareTarget(t)
	tg.entrySpec, tg.rejectedSpec = "", "app:1-wolfi-runtime"
	res, err := Verify(context.Background(), bareSource{t: tg}, "app@"+tg.Digest.String(), Options{Verifier: testVerifier(t)})
	if err != nil {
		t.Fatal(err)
	}
	want := "the image is unsigned: neither the index nor its 2 platform manifests carry any signature, and it has no attestations: the image of app:1-wolfi-runtime failed a post-build check, and such an image is stored unsigned; the build's report has its findings"
	if c := checkOf(res, CheckImageSignature); c.OK || c.Detail != want || !res.Unsigned || res.Spec != "app:1-wolfi-runtime" {
		t.Errorf("image-signature: ok %v %q (unsigned %v, spec %q)\nwant FAIL %q", c.OK, c.Detail, res.Unsigned, res.Spec, want)
	}
}

// TestAttestationSubjectsNeedAStatement: with attestations that cannot be
// read (so none verified), attestation-subjects fails instead of saying
// that every statement, of none, is about its image; the image, with no
// signature but attestations, is not called unsigned, nor the key blamed.
func TestAttestationSubjectsNeedAStatement(t *testing.T) {
	src := bareSource{t: bareTarget(t), envs: []Envelope{{Where: "referrer sha256:ab", Err: errBlob}}}
	res, err := Verify(context.Background(), src, "app:1", Options{Verifier: testVerifier(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unsigned {
		t.Error("an image with attestations is called unsigned")
	}
	if c, want := checkOf(res, CheckImageSignature), "neither the index nor its 2 platform manifests carry any signature, though the image has attestations"; c.OK || c.Detail != want {
		t.Errorf("image-signature: ok %v %q\nwant FAIL %q", c.OK, c.Detail, want)
	}
	if c := checkOf(res, CheckAttestationSubjects); c.OK || !strings.Contains(c.Detail, "no verified statement") {
		t.Errorf("attestation-subjects: ok %v %q, want a failure: no verified statement", c.OK, c.Detail)
	}
}

var errBlob = errors.New("blob does not match its digest")

// TestAttestationsOfUnsignedImage: listing the attestations of an image that
// has none is an error (hic attestations exits 1), worded as verify's
// image-signature check: unsigned, and why, when no signature is there
// either.
func TestAttestationsOfUnsignedImage(t *testing.T) {
	for _, c := range []struct {
		name, rejected, want string
	}{
		{"unsigned", "", "app:1: no attestations: the image is unsigned: neither the index nor its 2 platform manifests carry any signature or attestation (hic build --unsigned makes such images)"},
		{"rejected", "app:1-wolfi-runtime", "app:1: no attestations: the image is unsigned: neither the index nor its 2 platform manifests carry any signature or attestation: the image of app:1-wolfi-runtime failed a post-build check"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := bareTarget(t)
			tg.rejectedSpec = c.rejected
			list, err := Attestations(context.Background(), bareSource{t: tg}, "app:1", AttestationsOptions{Verifier: testVerifier(t)})
			if !errors.Is(err, ErrNoAttestations) || !strings.HasPrefix(err.Error(), c.want) || list != nil {
				t.Errorf("Attestations = %v, %v\nwant ErrNoAttestations: %q", list, err, c.want)
			}
		})
	}
}
