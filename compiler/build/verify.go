package build

import (
	"archive/tar"
	"bufio"
	"bytes"
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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/apk/expandapk"
	"chainguard.dev/apko/pkg/build/types"

	"github.com/hic-build/hic/compiler/resolve"
)

// verifyMirrors checks, before apko installs anything, every locked package
// that comes from a mirror: the mirror's index must carry a valid signature
// by a trusted key, list the package with the locked checksum, and the
// package file must match it (control checksum, data hash, size).
//
// It reads the files itself on every call: apko's process-wide index cache,
// keyed by path and modification time, is never trusted for this. It
// returns, per mirrored repository URL, a digest of the indexes it read.
func verifyMirrors(ctx context.Context, ref string, src *resolve.Sources, lock *resolve.Lock, archs []types.Architecture, checked *PackageChecks) (map[string]string, error) {
	type indexKey struct{ url, arch string }
	indexes := map[indexKey]map[string]*apk.Package{}
	sums := map[string]hash.Hash{}
	for _, arch := range archs {
		for _, p := range lock.Packages(arch) {
			dir, ok := src.MirrorDir(p.Repository)
			if !ok {
				continue // fetched by apko from the catalog URL
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			k := indexKey{p.Repository, arch.ToAPK()}
			idx, ok := indexes[k]
			if !ok {
				var err error
				var sum [32]byte
				idx, sum, err = resolve.ReadIndex(filepath.Join(dir, arch.ToAPK(), "APKINDEX.tar.gz"), src.TrustedKeys(p.Repository))
				if err != nil {
					return nil, fmt.Errorf("%s: verify %s from %s (mirror %s): %w", ref, p, p.Repository, dir, err)
				}
				indexes[k] = idx
				if sums[p.Repository] == nil {
					sums[p.Repository] = sha256.New()
					fmt.Fprintf(sums[p.Repository], "%s\x00", dir)
				}
				fmt.Fprintf(sums[p.Repository], "%s\x00%x\x00", arch.ToAPK(), sum)
			}
			entry, ok := idx[p.Name+"="+p.Version]
			if !ok {
				return nil, fmt.Errorf("%s: verify %s from %s: the signed index no longer lists it", ref, p, p.Repository)
			}
			if got := entry.ChecksumString(); got != p.Checksum {
				return nil, fmt.Errorf("%s: verify %s from %s: the signed index says checksum %s, the lock %s (resolve again)", ref, p, p.Repository, got, p.Checksum)
			}
			file := filepath.Join(dir, arch.ToAPK(), entry.Filename())
			if err := checked.verify(file, p, entry.Size); err != nil {
				return nil, fmt.Errorf("%s: verify %s from %s: %s: %w", ref, p, p.Repository, file, err)
			}
		}
	}
	out := make(map[string]string, len(sums))
	for u, h := range sums {
		out[u] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

// PackageChecks remembers the package files that passed verifyPackage, so
// that the specs of one build sharing a package hash its file once. A file
// counts as the same file only with the same path, device, inode, size,
// modification and change time, and the same locked checksum and index
// size: any write to it (which sets its change time) makes it a new file
// that is verified again. It also remembers the entries of apko's package
// cache checked in this process (see verifyPackageCache). The zero value
// is not usable; use NewPackageChecks. A nil *PackageChecks remembers
// nothing.
type PackageChecks struct {
	mu sync.Mutex
	ok map[packageCheck]bool
	// entries: apko package cache entries checked, or absent and so made
	// by apko in this process (see verifyPackageCache); closed when done.
	entries map[string]chan struct{}
	// memo: entries checked by earlier processes (RememberEntries).
	memo *EntryMemo
	// onCheck, if set, is told of each entry checkCachedPackage reads.
	onCheck func(dir string)
}

// RememberEntries makes the checks of apko's package cache entries skip
// those m holds in the state they are in, and add to m those they pass.
func (c *PackageChecks) RememberEntries(m *EntryMemo) {
	c.mu.Lock()
	c.memo = m
	c.mu.Unlock()
}

func (c *PackageChecks) entryMemo() *EntryMemo {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.memo
}

type packageCheck struct {
	file, checksum         string
	size                   uint64
	dev, ino               uint64
	fileSize, mtime, ctime int64
}

// NewPackageChecks returns an empty memo.
func NewPackageChecks() *PackageChecks {
	return &PackageChecks{ok: map[packageCheck]bool{}, entries: map[string]chan struct{}{}}
}

// entry runs check for the package cache entry dir once in this process:
// a concurrent call for dir waits for the first, a later one returns at
// once. A check that fails is run again by the next call.
func (c *PackageChecks) entry(dir string, check func() error) error {
	if c == nil {
		return check()
	}
	c.mu.Lock()
	if done, ok := c.entries[dir]; ok {
		c.mu.Unlock()
		<-done
		c.mu.Lock()
		_, ok := c.entries[dir]
		c.mu.Unlock()
		if ok {
			return nil
		}
		return c.entry(dir, check)
	}
	done := make(chan struct{})
	c.entries[dir] = done
	c.mu.Unlock()
	err := check()
	if err != nil {
		c.mu.Lock()
		delete(c.entries, dir)
		c.mu.Unlock()
	}
	close(done)
	return err
}

func (c *PackageChecks) verify(file string, p resolve.Package, size uint64) error {
	if c == nil {
		return verifyPackage(file, p, size)
	}
	var k packageCheck
	if fi, err := os.Stat(file); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			k = packageCheck{file: file, checksum: p.Checksum, size: size, dev: uint64(st.Dev), ino: st.Ino,
				fileSize: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		}
	}
	c.mu.Lock()
	done := k.file != "" && c.ok[k]
	c.mu.Unlock()
	if done {
		return nil
	}
	if err := verifyPackage(file, p, size); err != nil {
		return err
	}
	if k.file != "" {
		c.mu.Lock()
		c.ok[k] = true
		c.mu.Unlock()
	}
	return nil
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
