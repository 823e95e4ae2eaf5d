package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/sha1" //nolint:gosec // APK control checksums are SHA-1
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/apk/expandapk"
	"chainguard.dev/apko/pkg/apk/signature"
	"chainguard.dev/apko/pkg/build/types"

	"github.com/hic-build/hic/compiler/resolve"
)

// verifyMirrors checks, before apko installs anything, every locked package
// that comes from a mirror: the mirror's index must carry a valid signature
// by a trusted key, list the package with the locked checksum, and the
// package file must match it (control checksum, data hash, size).
//
// It reads the files itself on every call: apko's process-wide index cache,
// keyed by path and modification time, is never trusted for this.
func verifyMirrors(ctx context.Context, ref string, src *resolve.Sources, lock *resolve.Lock, archs []types.Architecture) error {
	type indexKey struct{ url, arch string }
	indexes := map[indexKey]map[string]*apk.Package{}
	for _, arch := range archs {
		for _, p := range lock.Packages(arch) {
			dir, ok := src.MirrorDir(p.Repository)
			if !ok {
				continue // fetched by apko from the catalog URL
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			k := indexKey{p.Repository, arch.ToAPK()}
			idx, ok := indexes[k]
			if !ok {
				var err error
				idx, err = readIndex(filepath.Join(dir, arch.ToAPK(), "APKINDEX.tar.gz"), src.TrustedKeys(p.Repository))
				if err != nil {
					return fmt.Errorf("%s: verify %s from %s (mirror %s): %w", ref, p, p.Repository, dir, err)
				}
				indexes[k] = idx
			}
			entry, ok := idx[p.Name+"="+p.Version]
			if !ok {
				return fmt.Errorf("%s: verify %s from %s: the signed index no longer lists it", ref, p, p.Repository)
			}
			if got := entry.ChecksumString(); got != p.Checksum {
				return fmt.Errorf("%s: verify %s from %s: the signed index says checksum %s, the lock %s (resolve again)", ref, p, p.Repository, got, p.Checksum)
			}
			file := filepath.Join(dir, arch.ToAPK(), entry.Filename())
			if err := verifyPackage(file, p, entry.Size); err != nil {
				return fmt.Errorf("%s: verify %s from %s: %s: %w", ref, p, p.Repository, file, err)
			}
		}
	}
	return nil
}

var signatureName = regexp.MustCompile(`^\.SIGN\.(RSA|RSA256|RSA512)\.(.+\.rsa\.pub)$`)

// readIndex reads a signed APKINDEX.tar.gz, checks that a key of trusted
// (key file name -> path) signed it and returns its packages by
// "name=version".
func readIndex(path string, trusted map[string]string) (map[string]*apk.Package, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", path, err)
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
			return nil, fmt.Errorf("index %s: signature segment: %w", path, err)
		}
		m := signatureName.FindStringSubmatch(h.Name)
		if m == nil {
			return nil, fmt.Errorf("index %s is not signed (first entry %q)", path, h.Name)
		}
		v, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", path, err)
		}
		sigs = append(sigs, sig{m[1], m[2], v})
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("index %s is not signed", path)
	}
	signed := b[len(b)-br.Len():]

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
			return nil, fmt.Errorf("index %s: %w", path, err)
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
			return nil, fmt.Errorf("index %s: bad signature by %s: %w", path, s.key, err)
		}
		verified = true
	}
	if !verified {
		return nil, fmt.Errorf("index %s is signed by unknown key %s; trusted keys: %s", path, strings.Join(unknown, ", "), strings.Join(keyNames(trusted), ", "))
	}

	idx, err := apk.IndexFromArchive(io.NopCloser(bytes.NewReader(signed)))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	pkgs := make(map[string]*apk.Package, len(idx.Packages))
	for _, p := range idx.Packages {
		pkgs[p.Name+"="+p.Version] = p
	}
	return pkgs, nil
}

// verifyPackage checks an .apk file against its locked checksum (Q1 of the
// control segment), the data hash its control segment declares, and the
// size the index states.
func verifyPackage(file string, p resolve.Package, size uint64) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	parts, err := expandapk.Split(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return fmt.Errorf("not an APK: %w", err)
	}
	control, err := io.ReadAll(parts[len(parts)-2])
	if err != nil {
		return err
	}
	sum := sha1.Sum(control) //nolint:gosec // APK control checksum
	if got := "Q1" + base64.StdEncoding.EncodeToString(sum[:]); got != p.Checksum {
		return fmt.Errorf("control checksum %s, the signed index says %s: the file was replaced after the index was signed", got, p.Checksum)
	}
	info, err := pkginfo(control)
	if err != nil {
		return err
	}
	if info["pkgname"] != p.Name || info["pkgver"] != p.Version {
		return fmt.Errorf(".PKGINFO names %s-%s", info["pkgname"], info["pkgver"])
	}
	want := info["datahash"]
	if want == "" {
		return errors.New(".PKGINFO has no datahash")
	}
	h := sha256.New()
	if _, err := io.Copy(h, parts[len(parts)-1]); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("data hash %s, .PKGINFO says %s: the data segment is truncated or altered", got, want)
	}
	if st, err := f.Stat(); err == nil && size != 0 && uint64(st.Size()) != size {
		return fmt.Errorf("size %d, the signed index says %d", st.Size(), size)
	}
	return nil
}

// pkginfo returns the single-valued fields of the .PKGINFO in a control
// segment.
func pkginfo(control []byte) (map[string]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(control))
	if err != nil {
		return nil, fmt.Errorf("control segment: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("control segment has no .PKGINFO: %w", err)
		}
		if h.Name != ".PKGINFO" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("control segment: %w", err)
		}
		m := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, " = "); ok && !strings.HasPrefix(k, "#") {
				if _, dup := m[k]; !dup {
					m[k] = v
				}
			}
		}
		return m, nil
	}
}

func keyNames(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return sortStrings(ks)
}
