package apkrepo

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// keyBits is the RSA modulus size of generated keys.
const keyBits = 2048

// Key is an RSA key pair that signs APK packages and repository indexes.
//
// apk-tools and apko find the public key of a signature by file name: a
// signature entry ".SIGN.RSA256.<name>.rsa.pub" is checked with the keyring
// file "<name>.rsa.pub", so the name is part of the key's identity.
// Make one with GenerateKey or LoadKey; the zero Key cannot sign.
//
// PKCS#1 v1.5 signatures are deterministic, so a Key remembers the
// signatures it made (up to maxRememberedSignatures): writing the same
// packages again, as tests and benchmarks do, skips the RSA work, which is
// about half the cost of a repository. A Key is safe for concurrent use.
type Key struct {
	name string
	priv *rsa.PrivateKey

	mu   sync.Mutex
	sigs map[[sha256.Size]byte][]byte // SHA-256 of the signed bytes -> signature
}

// maxRememberedSignatures bounds the memory of a Key's signature memo to
// about 20 MB.
const maxRememberedSignatures = 1 << 16

// GenerateKey returns a fresh RSA-2048 key called name (for example
// "hic-test"; the public key file will be "hic-test.rsa.pub").
func GenerateKey(name string) (*Key, error) {
	if err := validKeyName(name); err != nil {
		return nil, err
	}
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generate key %q: %w", name, err)
	}
	return &Key{name: name, priv: priv}, nil
}

// LoadKey reads a PEM private key (PKCS#1 or PKCS#8 RSA) written by
// WriteFiles or by abuild-keygen. The key's name is the file name without
// its ".rsa" suffix.
func LoadKey(privPath string) (*Key, error) {
	b, err := os.ReadFile(privPath)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(privPath), ".rsa")
	if err := validKeyName(name); err != nil {
		return nil, fmt.Errorf("load key %s: %w", privPath, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("load key %s: no PEM block", privPath)
	}
	var priv *rsa.PrivateKey
	switch blk.Type {
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		var k any
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err == nil {
			var ok bool
			if priv, ok = k.(*rsa.PrivateKey); !ok {
				err = fmt.Errorf("not an RSA key (%T)", k)
			}
		}
	default:
		err = fmt.Errorf("unexpected PEM block %q", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", privPath, err)
	}
	return &Key{name: name, priv: priv}, nil
}

func validKeyName(name string) error {
	switch {
	case name == "":
		return errors.New("key name is empty")
	case strings.ContainsAny(name, "/\\ \t\n"):
		return fmt.Errorf("key name %q: must not contain slashes or spaces", name)
	case strings.HasSuffix(name, ".rsa") || strings.HasSuffix(name, ".pub"):
		return fmt.Errorf("key name %q: give the bare name, without .rsa or .pub", name)
	}
	return nil
}

// Name is the key's name, without file suffixes.
func (k *Key) Name() string { return k.name }

// PublicKeyFileName is the keyring file name apko must see: "<name>.rsa.pub".
func (k *Key) PublicKeyFileName() string { return k.name + ".rsa.pub" }

// signatureEntryName is the tar entry that carries a signature by k.
// SignIndex returns an APKINDEX.tar.gz: idx (the gzipped index tar, as
// apk.ArchiveFromIndex writes it) behind its signature section signed by k,
// the signature entry dated mtime. WriteRepository signs every index so.
func (k *Key) SignIndex(idx []byte, mtime time.Time) ([]byte, error) {
	sig, err := newBuilder().signatureSegment(k, idx, mtime)
	if err != nil {
		return nil, err
	}
	return append(sig, idx...), nil
}

func (k *Key) signatureEntryName() string { return ".SIGN.RSA256." + k.PublicKeyFileName() }

// PublicKeyPEM returns the public key as a PKIX ("PUBLIC KEY") PEM block,
// the content of the keyring file.
func (k *Key) PublicKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("key %s: marshal public key: %w", k.name, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// WriteFiles writes "<dir>/<name>.rsa" (PKCS#1 PEM, mode 0600) and
// "<dir>/<name>.rsa.pub" (PKIX PEM, mode 0644), creating dir if needed.
func (k *Key) WriteFiles(dir string) (privPath, pubPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("key %s: %w", k.name, err)
	}
	pub, err := k.PublicKeyPEM()
	if err != nil {
		return "", "", err
	}
	privPath = filepath.Join(dir, k.name+".rsa")
	pubPath = filepath.Join(dir, k.PublicKeyFileName())
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.priv)})
	if err := writeFileMode(privPath, priv, 0o600); err != nil {
		return "", "", fmt.Errorf("key %s: %w", k.name, err)
	}
	if err := writeFileMode(pubPath, pub, 0o644); err != nil {
		return "", "", fmt.Errorf("key %s: %w", k.name, err)
	}
	return privPath, pubPath, nil
}

// writeFileMode writes b to path and sets mode even if the file existed.
func writeFileMode(path string, b []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, b, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// sign returns the PKCS#1 v1.5 RSA signature of SHA-256(signed).
func (k *Key) sign(signed []byte) ([]byte, error) {
	d := sha256.Sum256(signed)
	k.mu.Lock()
	sig, ok := k.sigs[d]
	k.mu.Unlock()
	if ok {
		return sig, nil
	}
	sig, err := rsa.SignPKCS1v15(nil, k.priv, crypto.SHA256, d[:])
	if err != nil {
		return nil, fmt.Errorf("key %s: sign: %w", k.name, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sigs == nil {
		k.sigs = map[[sha256.Size]byte][]byte{}
	}
	if len(k.sigs) < maxRememberedSignatures {
		k.sigs[d] = sig
	}
	return sig, nil
}
