package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

// plainVerifier is the smallest dsse.Verifier a third party writes: ECDSA
// over SHA-256 and no key id of its own, so go-securesystemslib derives one
// (the key's SSH fingerprint).
type plainVerifier struct{ pub *ecdsa.PublicKey }

func (p plainVerifier) Verify(_ context.Context, data, sig []byte) error {
	sum := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(p.pub, sum[:], sig) {
		return ErrBadSignature
	}
	return nil
}
func (p plainVerifier) KeyID() (string, error)   { return "", nil }
func (p plainVerifier) Public() crypto.PublicKey { return p.pub }

// TestEnvelopeVerifiesWithSecureSystemsLib checks hic's envelopes with
// go-securesystemslib's DSSE verifier (what in-toto-golang verifies with),
// given hic's public key through the library's own key loader and through a
// plain verifier. Both derive key ids that differ from hic's; a keyid in
// the signature would make them skip it.
func TestEnvelopeVerifiesWithSecureSystemsLib(t *testing.T) {
	ctx := context.Background()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	env, err := SignStatement(ctx, s, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := MarshalPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sslibKey, err := signerverifier.LoadKey(pubPEM)
	if err != nil {
		t.Fatalf("signerverifier.LoadKey: %v", err)
	}
	loaded, err := signerverifier.NewECDSASignerVerifierFromSSLibKey(sslibKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]dsse.Verifier{
		"signerverifier.LoadKey": loaded,
		"plain ECDSA verifier":   plainVerifier{&k.PublicKey},
	} {
		t.Run(name, func(t *testing.T) {
			ev, err := dsse.NewEnvelopeVerifier(v)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ev.Verify(ctx, env); err != nil {
				t.Errorf("dsse Verify: %v", err)
			}
		})
	}
	// And it still rejects another key.
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := dsse.NewEnvelopeVerifier(plainVerifier{&other.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(ctx, env); err == nil {
		t.Error("dsse Verify with another key: no error")
	}
}
