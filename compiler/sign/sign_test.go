package sign

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func newTestSigner(t *testing.T) Signer {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verifierOf(t *testing.T, s Signer) *Verifier {
	t.Helper()
	v, err := NewVerifier(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKeyPairRoundTrip(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyPair(k, priv, pub, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(priv)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("private key mode = %o, want 600", got)
	}
	// The files are the standard PEM forms cosign reads.
	for path, typ := range map[string]string{priv: "PRIVATE KEY", pub: "PUBLIC KEY"} {
		b, _ := os.ReadFile(path)
		block, rest := pem.Decode(b)
		if block == nil || block.Type != typ || len(bytes.TrimSpace(rest)) != 0 {
			t.Errorf("%s: want exactly one %q PEM block, got %q", path, typ, b)
		}
	}
	k2, err := LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Equal(k) {
		t.Error("loaded private key differs from the written one")
	}
	pk, err := LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !pk.Equal(&k.PublicKey) {
		t.Error("loaded public key differs from the written one")
	}

	// The key id is the hex SHA-256 of the PKIX DER.
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	sum := sha256.Sum256(der)
	id, err := KeyID(pk)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fmt.Sprintf("%x", sum), id); diff != "" {
		t.Errorf("KeyID (-want +got):\n%s", diff)
	}

	// No overwrite without asking; the existing key stays.
	k3, _ := GenerateKey()
	if err := WriteKeyPair(k3, priv, pub, false); !errors.Is(err, ErrKeyExists) {
		t.Errorf("WriteKeyPair over existing files: err = %v, want ErrKeyExists", err)
	}
	if k4, _ := LoadPrivateKey(priv); !k4.Equal(k) {
		t.Error("refused WriteKeyPair changed the private key")
	}
	if err := WriteKeyPair(k3, priv, pub, true); err != nil {
		t.Fatal(err)
	}
	if k4, _ := LoadPrivateKey(priv); !k4.Equal(k3) {
		t.Error("WriteKeyPair with overwrite did not replace the private key")
	}
	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Errorf("overwritten private key mode = %o, want 600", fi.Mode().Perm())
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	p384PubDER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	p256, _ := GenerateKey()
	pubPEM, _ := MarshalPublicKey(&p256.PublicKey)
	privPEM, _ := MarshalPrivateKey(p256)
	sec1, _ := x509.MarshalECPrivateKey(p256)

	pemOf := func(typ string, der []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	privCases := []struct {
		name string
		path string
		want string
	}{
		{"missing", filepath.Join(dir, "nope.key"), "no such file"},
		{"not pem", write("garbage.key", []byte("hello")), "no PEM block"},
		{"public key as private", write("pub-as-priv.key", pubPEM), `PEM block is "PUBLIC KEY", want "PRIVATE KEY"`},
		{"cosign encrypted", write("cosign.key", pemOf("ENCRYPTED SIGSTORE PRIVATE KEY", []byte("x"))), "encrypted cosign key"},
		{"sec1", write("sec1.key", pemOf("EC PRIVATE KEY", sec1)), "openssl pkcs8"},
		{"wrong curve", write("p384.key", pemOf("PRIVATE KEY", p384DER)), "curve P-384, want P-256"},
		{"not ecdsa", write("ed.key", pemOf("PRIVATE KEY", edDER)), "want an ECDSA P-256 key"},
	}
	for _, tc := range privCases {
		t.Run("private/"+tc.name, func(t *testing.T) {
			_, err := LoadPrivateKey(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadPrivateKey: err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	pubCases := []struct {
		name string
		path string
		want string
	}{
		{"missing", filepath.Join(dir, "nope.pub"), "no such file"},
		{"private as public", write("priv-as-pub.pub", privPEM), `PEM block is "PRIVATE KEY", want "PUBLIC KEY"`},
		{"wrong curve", write("p384.pub", pemOf("PUBLIC KEY", p384PubDER)), "curve P-384, want P-256"},
	}
	for _, tc := range pubCases {
		t.Run("public/"+tc.name, func(t *testing.T) {
			_, err := LoadPublicKey(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadPublicKey: err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// pae is the DSSE pre-authentication encoding, written out independently of
// go-securesystemslib to check the signature is what cosign verifies.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

func TestEnvelopeRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newTestSigner(t)
	v := verifierOf(t, s)
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}`)

	env, err := SignStatement(ctx, s, stmt)
	if err != nil {
		t.Fatal(err)
	}
	if env.PayloadType != InTotoPayloadType {
		t.Errorf("payloadType = %q, want %q", env.PayloadType, InTotoPayloadType)
	}
	if len(env.Signatures) != 1 || env.Signatures[0].KeyID != "" {
		t.Fatalf("signatures = %+v, want one with an empty keyid", env.Signatures)
	}

	// Through JSON and back, as it is stored.
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	env2, err := ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyEnvelope(ctx, v, env2)
	if err != nil {
		t.Fatalf("VerifyEnvelope: %v", err)
	}
	if diff := cmp.Diff(string(stmt), string(got)); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}

	// cosign's check: ASN.1 DER ECDSA over SHA-256(PAE), keyid ignored.
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	digest := sha256.Sum256(pae(InTotoPayloadType, stmt))
	if !ecdsa.VerifyASN1(s.Public(), digest[:], sig) {
		t.Error("signature is not ECDSA/SHA-256 over the DSSE PAE")
	}
}

func TestEnvelopeRejects(t *testing.T) {
	ctx := context.Background()
	s := newTestSigner(t)
	v := verifierOf(t, s)
	other := verifierOf(t, newTestSigner(t))
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"a"}`)
	env, err := SignStatement(ctx, s, stmt)
	if err != nil {
		t.Fatal(err)
	}

	tampered := *env
	tampered.Payload = base64.StdEncoding.EncodeToString(bytes.Replace(stmt, []byte(`"a"`), []byte(`"b"`), 1))
	retyped := *env
	retyped.PayloadType = "application/json"
	withKeyID := *env
	withKeyID.Signatures = []Signature{{KeyID: s.KeyID(), Sig: env.Signatures[0].Sig}}
	unsigned := *env
	unsigned.Signatures = nil

	cases := []struct {
		name string
		v    *Verifier
		env  *Envelope
	}{
		{"tampered payload", v, &tampered},
		{"changed payload type", v, &retyped},
		{"other key", other, env},
		{"other key, keyid of the signer", other, &withKeyID},
		{"no signatures", v, &unsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyEnvelope(ctx, tc.v, tc.env)
			if !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyEnvelope: err = %v, want ErrBadSignature", err)
			}
		})
	}
	// Envelopes written before keyids were left empty carry hic's key id;
	// they still verify with the right key.
	if _, err := VerifyEnvelope(ctx, v, &withKeyID); err != nil {
		t.Errorf("VerifyEnvelope with hic's keyid: %v", err)
	}
}

func TestSimpleSigning(t *testing.T) {
	ctx := context.Background()
	h, err := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	got := SimpleSigningPayload("registry.example/hic/nginx", h)
	want := `{"critical":{"identity":{"docker-reference":"registry.example/hic/nginx"},"image":{"docker-manifest-digest":"sha256:` +
		strings.Repeat("ab", 32) + `"},"type":"cosign container image signature"},"optional":null}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("SimpleSigningPayload (-want +got):\n%s", diff)
	}
	repo, h2, err := ParseSimpleSigningPayload(got)
	if err != nil || repo != "registry.example/hic/nginx" || h2 != h {
		t.Errorf("ParseSimpleSigningPayload = %q, %v, %v", repo, h2, err)
	}

	s := newTestSigner(t)
	b64, err := SignBlob(ctx, s, got)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyBlob(ctx, verifierOf(t, s), got, b64); err != nil {
		t.Errorf("VerifyBlob: %v", err)
	}
	// cosign's check: ECDSA/SHA-256 over the payload bytes as they are.
	sig, _ := base64.StdEncoding.DecodeString(b64)
	sum := sha256.Sum256(got)
	if !ecdsa.VerifyASN1(s.Public(), sum[:], sig) {
		t.Error("blob signature is not ECDSA/SHA-256 over the payload")
	}
	other := SimpleSigningPayload("registry.example/hic/nginx", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)})
	if err := VerifyBlob(ctx, verifierOf(t, s), other, b64); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyBlob of another payload: err = %v, want ErrBadSignature", err)
	}
	if err := VerifyBlob(ctx, verifierOf(t, newTestSigner(t)), got, b64); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyBlob with another key: err = %v, want ErrBadSignature", err)
	}
	if err := VerifyBlob(ctx, verifierOf(t, s), got, "!!"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyBlob of non-base64: err = %v, want ErrBadSignature", err)
	}
}

// A private key file with one changed byte in its private scalar parses
// in crypto/x509 as another key; hic refuses it by the public key the file
// stores. (From an outside try: the build signed with a key nobody had.)
func TestCorruptPrivateKeyRefused(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKey(good); err != nil {
		t.Fatalf("the key as written: %v", err)
	}
	block, _ := pem.Decode(good)
	for _, at := range []int{40, 50, 60} { // inside the 32-byte scalar
		der := bytes.Clone(block.Bytes)
		der[at] ^= 0x04
		bad := pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
		if _, err := ParsePrivateKey(bad); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("byte %d changed: %v, want the key refused as corrupt", at, err)
		}
	}
}

// Damaged and passphrase-protected keys are refused in words, not with
// encoding/asn1's dump of its struct tags.
func TestKeyErrorsInWords(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	der := bytes.Clone(block.Bytes)
	der[0] = 0x31 // a SET where the SEQUENCE is
	for name, tc := range map[string]struct {
		pem  []byte
		want string
	}{
		"damaged body": {pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), "the PEM body is damaged"},
		"encrypted":    {pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), "passphrase-protected"},
	} {
		_, err := ParsePrivateKey(tc.pem)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "optional:") {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
}
