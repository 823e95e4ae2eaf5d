package build

import (
	"compress/gzip"
	"context"
	"crypto/sha1" //nolint:gosec // APK control checksums are SHA-1
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/chainguard-dev/clog"

	"github.com/hic-build/hic/compiler/resolve"
)

// verifyPackageCache checks, before apko reads them, the entries of apko's
// package cache for every locked package fetched from a repository without
// a mirror: the control segment must hash to the lock's checksum (the
// signed index's), the data segment to the name apko gave it (its data
// hash), and the uncompressed data to the decompressed data segment. An
// entry that does not is named in the log and removed, so apko fetches the
// package again (and it is then checked as it arrives). It returns the
// entries it removed.
func verifyPackageCache(ctx context.Context, ref, cacheDir string, src *resolve.Sources, lock *resolve.Lock, archs []types.Architecture) ([]string, error) {
	var removed []string
	for _, arch := range archs {
		for _, p := range lock.Packages(arch) {
			if _, mirrored := src.MirrorDir(p.Repository); mirrored {
				continue // read from the mirror, checked by verifyMirrors
			}
			if err := ctx.Err(); err != nil {
				return removed, err
			}
			dir := filepath.Join(cacheDir, url.QueryEscape(strings.TrimSuffix(p.Repository, "/")), arch.ToAPK(), p.Name+"-"+p.Version)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			why, err := checkCachedPackage(dir, p)
			if err != nil {
				return removed, fmt.Errorf("%s: package cache %s: %w", ref, dir, err)
			}
			if why == "" {
				continue
			}
			clog.FromContext(ctx).Warn("package cache entry altered: removed, fetching the package again",
				"ref", ref, "package", p.String(), "repository", p.Repository, "entry", dir, "why", why)
			if err := os.RemoveAll(dir); err != nil {
				return removed, fmt.Errorf("%s: package cache %s is altered (%s) and cannot be removed: %w", ref, dir, why, err)
			}
			removed = append(removed, dir)
		}
	}
	return removed, nil
}

// checkCachedPackage says what is wrong with one cache entry, or "".
func checkCachedPackage(dir string, p resolve.Package) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p.Checksum, "Q1"))
	if err != nil || !strings.HasPrefix(p.Checksum, "Q1") {
		return "", fmt.Errorf("locked checksum %q is not Q1+base64", p.Checksum)
	}
	ctl := hex.EncodeToString(raw)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		name := e.Name()
		full := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".ctl.tar.gz"):
			if strings.TrimSuffix(name, ".ctl.tar.gz") != ctl {
				return fmt.Sprintf("%s is not the locked control segment %s", name, ctl), nil
			}
			if sum, err := fileSum(full, sha1.New()); err != nil { //nolint:gosec
				return "", err
			} else if sum != ctl {
				return fmt.Sprintf("%s hashes to %s: the control segment was edited", name, sum), nil
			}
		case strings.HasSuffix(name, ".dat.tar.gz"):
			want := strings.TrimSuffix(name, ".dat.tar.gz")
			if sum, err := fileSum(full, sha256.New()); err != nil {
				return "", err
			} else if sum != want {
				return fmt.Sprintf("%s hashes to %s: the data segment was edited", name, sum), nil
			}
		case strings.HasSuffix(name, ".dat.tar"):
			gz := full + ".gz"
			a, err := gunzipSum(gz)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Sprintf("%s has no data segment to check it against", name), nil
			}
			if err != nil {
				return fmt.Sprintf("%s: %v", name+".gz", err), nil
			}
			b, err := fileSum(full, sha256.New())
			if err != nil {
				return "", err
			}
			if a != b {
				return fmt.Sprintf("%s is not the decompressed data segment: it was edited", name), nil
			}
		}
	}
	return "", nil
}

func fileSum(path string, h hash.Hash) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func gunzipSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
