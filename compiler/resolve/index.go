package resolve

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha1" //nolint:gosec // apk-tools' legacy RSA signatures use SHA-1
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/apk/signature"
)

var signatureName = regexp.MustCompile(`^\.SIGN\.(RSA|RSA256|RSA512)\.(.+\.rsa\.pub)$`)

// ReadIndex reads a signed APKINDEX.tar.gz, checks that a key of trusted
// (key file name -> path, as Sources.TrustedKeys returns) signed it and
// returns its packages by "name=version" and the SHA-256 of the file.
// A signature by a trusted key that does not verify is an error, and so is
// an index with no signature by a trusted key. It reads the file on every
// call; apko's process-wide index cache is not involved.
func ReadIndex(path string, trusted map[string]string) (map[string]*apk.Package, [32]byte, error) {
	pkgs, b, err := readIndexBytes(path, trusted)
	return pkgs, sha256.Sum256(b), err
}

func readIndexBytes(path string, trusted map[string]string) (map[string]*apk.Package, []byte, error) {
	b, signed, err := verifiedIndex(path, trusted)
	if err != nil {
		return nil, nil, err
	}
	idx, err := apk.IndexFromArchive(io.NopCloser(bytes.NewReader(signed)))
	if err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", path, err)
	}
	pkgs := make(map[string]*apk.Package, len(idx.Packages))
	for _, p := range idx.Packages {
		pkgs[p.Name+"="+p.Version] = p
	}
	return pkgs, b, nil
}

// verifiedIndex reads the index at path and checks its signature as
// ReadIndex does, without parsing the package list. It returns the file
// and its signed part.
func verifiedIndex(path string, trusted map[string]string) (file, signed []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", path, err)
	}
	zr.Multistream(false)
	tr := tar.NewReader(zr)
	type sig struct {
		alg, key string
		value    []byte
	}
	var sigs []sig
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("index %s: signature segment: %w", path, err)
		}
		m := signatureName.FindStringSubmatch(h.Name)
		if m == nil {
			return nil, nil, fmt.Errorf("index %s is not signed (first entry %q)", path, h.Name)
		}
		v, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, fmt.Errorf("index %s: %w", path, err)
		}
		sigs = append(sigs, sig{m[1], m[2], v})
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, nil, fmt.Errorf("index %s: %w", path, err)
	}
	if len(sigs) == 0 {
		return nil, nil, fmt.Errorf("index %s is not signed", path)
	}
	signed = b[len(b)-br.Len():]

	var unknown []string
	verified := false
	for _, s := range sigs {
		keyPath, ok := trusted[s.key]
		if !ok {
			unknown = append(unknown, s.key)
			continue
		}
		pem, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, nil, fmt.Errorf("index %s: %w", path, err)
		}
		var h crypto.Hash
		var digest []byte
		switch s.alg {
		case "RSA":
			d := sha1.Sum(signed) //nolint:gosec // apk-tools' legacy signature scheme
			h, digest = crypto.SHA1, d[:]
		case "RSA256":
			d := sha256.Sum256(signed)
			h, digest = crypto.SHA256, d[:]
		case "RSA512":
			d := sha512.Sum512(signed)
			h, digest = crypto.SHA512, d[:]
		}
		if err := signature.RSAVerifyDigest(digest, h, s.value, pem); err != nil {
			return nil, nil, fmt.Errorf("index %s: bad signature by %s: %w", path, s.key, err)
		}
		verified = true
	}
	if !verified {
		return nil, nil, fmt.Errorf("index %s is signed by unknown key %s; trusted keys: %s", path, strings.Join(unknown, ", "), strings.Join(keyNames(trusted), ", "))
	}
	return b, signed, nil
}

func keyNames(m map[string]string) []string {
	return sortedKeys(m)
}
