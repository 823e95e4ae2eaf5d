package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Signer signs bytes with ECDSA P-256 over their SHA-256 and returns the
// ASN.1 DER signature. It is the seam for key stores other than a local key
// file (a KMS, a hardware key).
type Signer interface {
	// Sign returns the ASN.1 DER ECDSA signature of the SHA-256 of data.
	Sign(ctx context.Context, data []byte) ([]byte, error)
	// Public returns the public key that verifies the signatures.
	Public() *ecdsa.PublicKey
	// KeyID returns the key's id (see KeyID).
	KeyID() string
}

// Verifier checks signatures made by a Signer.
type Verifier struct {
	pub   *ecdsa.PublicKey
	keyID string
}

// keySigner is a Signer over an in-memory private key.
type keySigner struct {
	key   *ecdsa.PrivateKey
	keyID string
}

var _ Signer = (*keySigner)(nil)

// NewSigner returns a Signer for a P-256 private key.
func NewSigner(k *ecdsa.PrivateKey) (Signer, error) {
	if k == nil {
		return nil, errors.New("new signer: no private key")
	}
	id, err := KeyID(&k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("new signer: %w", err)
	}
	return &keySigner{key: k, keyID: id}, nil
}

// LoadSigner reads a private key file (see LoadPrivateKey) and returns its Signer.
func LoadSigner(path string) (Signer, error) {
	k, err := LoadPrivateKey(path)
	if err != nil {
		return nil, err
	}
	return NewSigner(k)
}

func (s *keySigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

func (s *keySigner) Public() *ecdsa.PublicKey { return &s.key.PublicKey }
func (s *keySigner) KeyID() string            { return s.keyID }

// NewVerifier returns a Verifier for a P-256 public key.
func NewVerifier(pub *ecdsa.PublicKey) (*Verifier, error) {
	id, err := KeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	return &Verifier{pub: pub, keyID: id}, nil
}

// LoadVerifier reads a public key file (see LoadPublicKey) and returns its Verifier.
func LoadVerifier(path string) (*Verifier, error) {
	pub, err := LoadPublicKey(path)
	if err != nil {
		return nil, err
	}
	return NewVerifier(pub)
}

// Verify checks an ASN.1 DER ECDSA signature of the SHA-256 of data.
func (v *Verifier) Verify(_ context.Context, data, sig []byte) error {
	sum := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(v.pub, sum[:], sig) {
		return ErrBadSignature
	}
	return nil
}

// Public returns the verifier's public key.
func (v *Verifier) Public() *ecdsa.PublicKey { return v.pub }

// KeyID returns the id of the verifier's key.
func (v *Verifier) KeyID() string { return v.keyID }

// ErrBadSignature is returned (wrapped) when a signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// dsseSigner adapts a Signer to go-securesystemslib's dsse.Signer.
type dsseSigner struct{ s Signer }

func (d dsseSigner) Sign(ctx context.Context, data []byte) ([]byte, error) {
	return d.s.Sign(ctx, data)
}

// KeyID is empty: DSSE verifiers derive a key id of their own from the
// public key they are given (go-securesystemslib's key loader hashes its
// canonical JSON form, its plain verifiers take the SSH fingerprint) and skip
// a signature whose keyid is set and differs, so only an empty keyid verifies
// everywhere. cosign writes it empty too.
func (d dsseSigner) KeyID() (string, error) { return "", nil }

// dsseVerifier adapts a Verifier to go-securesystemslib's dsse.Verifier.
type dsseVerifier struct{ v *Verifier }

func (d dsseVerifier) Verify(ctx context.Context, data, sig []byte) error {
	return d.v.Verify(ctx, data, sig)
}
func (d dsseVerifier) KeyID() (string, error)   { return d.v.keyID, nil }
func (d dsseVerifier) Public() crypto.PublicKey { return d.v.pub }
