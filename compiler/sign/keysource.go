package sign

import (
	"crypto/ecdsa"
	"fmt"
	"os"
	"strings"
)

// A key source is what a user passes as --key or in HIC_SIGNING_KEY /
// HIC_PUBLIC_KEY: the path of a PEM file, or the PEM text itself (the usual
// CI pattern, HIC_SIGNING_KEY="$(cat hic.key)"). Errors about a source never
// repeat it when it holds PEM text, so no message or log line carries key
// material; they name it "inline PEM (N bytes)".

// IsInlinePEM reports whether src is PEM text rather than a path.
func IsInlinePEM(src string) bool {
	return strings.Contains(src, "-----BEGIN") || strings.ContainsAny(src, "\n\r")
}

// DescribeKeySource names a key source in messages without its contents.
func DescribeKeySource(src string) string {
	if IsInlinePEM(src) {
		return fmt.Sprintf("inline PEM (%d bytes)", len(src))
	}
	return src
}

// LoadPrivateKeyFrom reads a private key from a path or inline PEM.
func LoadPrivateKeyFrom(src string) (*ecdsa.PrivateKey, error) {
	return loadKey("private key", "from "+DescribeKeySource(src), func() ([]byte, error) { return readKeySource(src) }, ParsePrivateKey)
}

// LoadPublicKeyFrom reads a public key from a path or inline PEM.
func LoadPublicKeyFrom(src string) (*ecdsa.PublicKey, error) {
	return loadKey("public key", "from "+DescribeKeySource(src), func() ([]byte, error) { return readKeySource(src) }, ParsePublicKey)
}

// LoadSignerFrom returns the Signer of a private key given as a path or
// inline PEM.
func LoadSignerFrom(src string) (Signer, error) {
	k, err := LoadPrivateKeyFrom(src)
	if err != nil {
		return nil, err
	}
	return NewSigner(k)
}

// LoadVerifierFrom returns the Verifier of a public key given as a path or
// inline PEM.
func LoadVerifierFrom(src string) (*Verifier, error) {
	k, err := LoadPublicKeyFrom(src)
	if err != nil {
		return nil, err
	}
	return NewVerifier(k)
}

func readKeySource(src string) ([]byte, error) {
	if IsInlinePEM(src) {
		return []byte(src), nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		// os errors quote the path, which is not secret here.
		return nil, err
	}
	return b, nil
}
