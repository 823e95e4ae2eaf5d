package sign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
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
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", path, err)
	}
	return k, nil
}

// ParsePrivateKey decodes a PKCS#8 PEM ECDSA P-256 private key. The errors
// name what is wrong: no PEM block, a PEM block of another type (including
// cosign's encrypted key format), a key that is not ECDSA, another curve.
func ParsePrivateKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, err := decodePEM(data, PrivateKeyPEMType)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, want an ECDSA P-256 key", key)
	}
	if err := checkCurve(&k.PublicKey); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadPublicKey reads a PKIX PEM ECDSA P-256 public key from path.
func LoadPublicKey(path string) (*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	return k, nil
}

// ParsePublicKey decodes a PKIX PEM ECDSA P-256 public key.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	block, err := decodePEM(data, PublicKeyPEMType)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKIX public key: %w", err)
	}
	k, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want an ECDSA P-256 key", key)
	}
	if err := checkCurve(k); err != nil {
		return nil, err
	}
	return k, nil
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
