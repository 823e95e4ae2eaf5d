package apkrepo

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func TestKeyWriteFilesAndLoad(t *testing.T) {
	k := testKey(t, "hic-test")
	dir := filepath.Join(t.TempDir(), "keys")
	priv, pub, err := k.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want string
		mode os.FileMode
	}{
		{priv, filepath.Join(dir, "hic-test.rsa"), 0o600},
		{pub, filepath.Join(dir, "hic-test.rsa.pub"), 0o644},
	} {
		if c.path != c.want {
			t.Errorf("path: got %s, want %s", c.path, c.want)
		}
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode {
			t.Errorf("%s: mode %o, want %o", c.path, fi.Mode().Perm(), c.mode)
		}
	}
	pubPEM, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(pubPEM); blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("public key file is not a PKIX PEM block: %q", pubPEM)
	}
	privPEM, err := os.ReadFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	if blk, _ := pem.Decode(privPEM); blk == nil || blk.Type != "RSA PRIVATE KEY" {
		t.Fatalf("private key file is not a PKCS#1 PEM block")
	}

	loaded, err := LoadKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Name() != "hic-test" || loaded.PublicKeyFileName() != "hic-test.rsa.pub" {
		t.Errorf("loaded key: name %q, file %q", loaded.Name(), loaded.PublicKeyFileName())
	}
	loadedPub, err := loaded.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(loadedPub, pubPEM) {
		t.Error("loaded key has another public key")
	}
	if k.priv.N.BitLen() != 2048 {
		t.Errorf("modulus: %d bits, want 2048", k.priv.N.BitLen())
	}
}

func TestLoadKeyPKCS8(t *testing.T) {
	k := testKey(t, "p8")
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p8.rsa")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.priv.Equal(k.priv) || got.Name() != "p8" {
		t.Errorf("PKCS#8 key not loaded faithfully (name %q)", got.Name())
	}
}

func TestKeyErrors(t *testing.T) {
	for _, name := range []string{"", "a/b", "with space", "x.rsa", "x.rsa.pub"} {
		t.Run("generate "+name, func(t *testing.T) {
			if _, err := GenerateKey(name); err == nil {
				t.Errorf("GenerateKey(%q): no error", name)
			}
		})
	}
	dir := t.TempDir()
	for _, c := range []struct{ name, body string }{
		{"missing.rsa", ""},
		{"garbage.rsa", "not pem"},
		{"cert.rsa", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		{"broken.rsa", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"},
	} {
		t.Run("load "+c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if c.body != "" {
				if err := os.WriteFile(p, []byte(c.body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := LoadKey(p); err == nil {
				t.Errorf("LoadKey(%s): no error", c.name)
			}
		})
	}
}

func TestSignDeterministicAndRemembered(t *testing.T) {
	k := testKey(t, "memo")
	priv, _, err := k.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := LoadKey(priv) // same key, empty memo
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("signed gzip stream")
	a, err := k.sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.sign(msg) // from the memo
	if err != nil {
		t.Fatal(err)
	}
	c, err := fresh.sign(msg) // computed again
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Error("signatures of the same bytes differ")
	}
	if len(k.sigs) != 1 {
		t.Errorf("memo holds %d signatures, want 1", len(k.sigs))
	}
	d := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(&k.priv.PublicKey, crypto.SHA256, d[:], a); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
}
