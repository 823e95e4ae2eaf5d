package sign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/hic-build/hic/compiler/fsutil"
	"io/fs"
	"os"
)

// PEM block types of the key files.
const (
	PrivateKeyPEMType = "PRIVATE KEY" // PKCS#8
	PublicKeyPEMType  = "PUBLIC KEY"  // PKIX
)

// Default file names of a key pair in a directory (hic keygen --out DIR).
const (
	PrivateKeyFile = "hic.key"
	PublicKeyFile  = "hic.pub"
)

// ErrKeyExists is returned by WriteKeyPair when a key file exists and
// overwriting was not asked for.
var ErrKeyExists = errors.New("key file exists")

// GenerateKey returns a new ECDSA P-256 private key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate P-256 key: %w", err)
	}
	return k, nil
}

// MarshalPrivateKey encodes k as a PKCS#8 PEM block ("PRIVATE KEY").
func MarshalPrivateKey(k *ecdsa.PrivateKey) ([]byte, error) {
	if err := checkCurve(&k.PublicKey); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyPEMType, Bytes: der}), nil
}

// MarshalPublicKey encodes pub as a PKIX PEM block ("PUBLIC KEY").
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	if err := checkCurve(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: der}), nil
}

// KeyID returns the id of a public key: the lowercase hex SHA-256 of its
// PKIX DER encoding.
func KeyID(pub *ecdsa.PublicKey) (string, error) {
	if err := checkCurve(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// WriteKeyPair writes k's private key to privPath (mode 0600) and its public
// key to pubPath (mode 0644). Unless overwrite is set it refuses, with an
// error wrapping ErrKeyExists, when either file exists, and writes nothing.
func WriteKeyPair(k *ecdsa.PrivateKey, privPath, pubPath string, overwrite bool) error {
	privPEM, err := MarshalPrivateKey(k)
	if err != nil {
		return err
	}
	pubPEM, err := MarshalPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	if !overwrite {
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s: %w", p, ErrKeyExists)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	if err := fsutil.WriteFileAtomic(privPath, privPEM, 0o600); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(pubPath, pubPEM, 0o644)
}

// LoadPrivateKey reads a PKCS#8 PEM ECDSA P-256 private key from path.
func LoadPrivateKey(path string) (*ecdsa.PrivateKey, error) {
	return loadKey("private key", path, func() ([]byte, error) { return os.ReadFile(path) }, ParsePrivateKey)
}

// ParsePrivateKey decodes a PKCS#8 PEM ECDSA P-256 private key. The errors
// name what is wrong: no PEM block, a PEM block of another type (including
// cosign's encrypted key format), a key that is not ECDSA, another curve.
func ParsePrivateKey(data []byte) (*ecdsa.PrivateKey, error) {
	return parseKey[*ecdsa.PrivateKey](data, PrivateKeyPEMType, "PKCS#8", "private key", parsePKCS8Checked)
}

// parsePKCS8Checked parses a PKCS#8 key as x509.ParsePKCS8PrivateKey does
// and checks the public key the file stores against the one its private
// scalar gives: x509 recomputes the public key and ignores the stored one,
// so a changed character in the scalar would load as another key, one
// whose public half nobody holds.
func parsePKCS8Checked(der []byte) (any, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return key, nil
	}
	var p8 struct {
		Version    int
		Algo       asn1.RawValue
		PrivateKey []byte
	}
	var sec1 struct {
		Version    int
		PrivateKey []byte
		Params     asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
		PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(der, &p8); err != nil {
		return nil, err
	}
	if _, err := asn1.Unmarshal(p8.PrivateKey, &sec1); err != nil {
		return nil, err
	}
	if len(sec1.PublicKey.Bytes) == 0 {
		return k, nil // no public key stored: nothing to compare
	}
	derived, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(sec1.PublicKey.Bytes, derived) {
		return nil, errors.New("the key is corrupt: the public key it stores is not the one its private key gives (a changed or mistyped character?); use the key file hic keygen wrote")
	}
	return k, nil
}

// LoadPublicKey reads a PKIX PEM ECDSA P-256 public key from path.
func LoadPublicKey(path string) (*ecdsa.PublicKey, error) {
	return loadKey("public key", path, func() ([]byte, error) { return os.ReadFile(path) }, ParsePublicKey)
}

// ParsePublicKey decodes a PKIX PEM ECDSA P-256 public key.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	return parseKey[*ecdsa.PublicKey](data, PublicKeyPEMType, "PKIX", "public key", x509.ParsePKIXPublicKey)
}

// loadKey reads a key with read and decodes it with parse. what ("private
// key", "public key") and from (where it was read) name it in errors.
func loadKey[K any](what, from string, read func() ([]byte, error), parse func([]byte) (K, error)) (K, error) {
	var zero K
	b, err := read()
	if err != nil {
		return zero, fmt.Errorf("load %s: %w", what, err)
	}
	k, err := parse(b)
	if err != nil {
		return zero, fmt.Errorf("load %s %s: %w", what, from, err)
	}
	return k, nil
}

// parseKey decodes the PEM block of type pemType in data, parses its DER
// with parse and checks that it holds an ECDSA P-256 key of type K. format
// ("PKCS#8", "PKIX") and what ("private key", "public key") name it in
// errors.
func parseKey[K *ecdsa.PrivateKey | *ecdsa.PublicKey](data []byte, pemType, format, what string, parse func([]byte) (any, error)) (K, error) {
	block, err := decodePEM(data, pemType)
	if err != nil {
		return nil, err
	}
	key, err := parse(block.Bytes)
	var structural asn1.StructuralError
	var syntax asn1.SyntaxError
	if errors.As(err, &structural) || errors.As(err, &syntax) {
		// encoding/asn1's message dumps its struct tags: say what it means.
		return nil, fmt.Errorf("not a valid %s %s: the PEM body is damaged (a changed, missing or extra character?)", format, what)
	}
	if err != nil {
		return nil, fmt.Errorf("parse %s %s: %w", format, what, err)
	}
	k, ok := key.(K)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want an ECDSA P-256 key", what, key)
	}
	if err := checkCurve(publicOf(k)); err != nil {
		return nil, err
	}
	return k, nil
}

// publicOf is the public key of k.
func publicOf[K *ecdsa.PrivateKey | *ecdsa.PublicKey](k K) *ecdsa.PublicKey {
	switch k := any(k).(type) {
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PublicKey:
		return k
	}
	return nil
}

func decodePEM(data []byte, want string) (*pem.Block, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found, want %q", want)
	}
	if block.Type != want {
		hint := ""
		switch block.Type {
		case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY":
			hint = " (an encrypted cosign key; hic reads unencrypted PKCS#8 keys as written by hic keygen)"
		case "EC PRIVATE KEY":
			hint = " (SEC 1; convert with: openssl pkcs8 -topk8 -nocrypt)"
		case "ENCRYPTED PRIVATE KEY":
			hint = " (a passphrase-protected PKCS#8 key; hic reads unencrypted keys: decrypt with openssl pkcs8 -in KEY -nocrypt -out PLAIN)"
		}
		return nil, fmt.Errorf("PEM block is %q, want %q%s", block.Type, want, hint)
	}
	return block, nil
}

func checkCurve(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve == nil {
		return errors.New("no public key")
	}
	if pub.Curve != elliptic.P256() {
		return fmt.Errorf("key is on curve %s, want P-256", pub.Curve.Params().Name)
	}
	return nil
}
