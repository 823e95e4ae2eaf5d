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
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/apk/expandapk"
	"chainguard.dev/apko/pkg/build/types"
	"golang.org/x/sync/errgroup"

	"github.com/hic-build/hic/compiler/gunzip"
	"github.com/hic-build/hic/compiler/resolve"
)

// mirrorPackage is a locked package of a mirror, to be verified against
// the index entry that lists it.
type mirrorPackage struct {
	file string // the .apk in the mirror
	pkg  resolve.Package
	arch types.Architecture
	size uint64 // the index's
}

// verifyMirrors checks, before apko installs anything, the indexes of every
// mirror that holds a locked package: each must carry a valid signature by
// a trusted key and list the package with the locked checksum. It returns,
// per mirrored repository URL, a digest of the indexes it read, and the
// mirrored packages, whose files verifyPackages then checks.
//
// It reads the files itself on every call: apko's process-wide index cache,
// keyed by path and modification time, is never trusted for this.
func verifyMirrors(ctx context.Context, ref string, src *resolve.Sources, lock *resolve.Lock, archs []types.Architecture) (map[string]string, []mirrorPackage, error) {
	type indexKey struct{ url, arch string }
	indexes := map[indexKey]map[string]*apk.Package{}
	sums := map[string]hash.Hash{}
	var pkgs []mirrorPackage
	for _, arch := range archs {
		for _, p := range lock.Packages(arch) {
			dir, ok := src.MirrorDir(p.Repository)
			if !ok {
				continue // fetched by apko from the catalog URL
			}
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			k := indexKey{p.Repository, arch.ToAPK()}
			idx, ok := indexes[k]
			if !ok {
				var err error
				var sum [32]byte
				idx, sum, err = resolve.ReadIndex(filepath.Join(dir, arch.ToAPK(), "APKINDEX.tar.gz"), src.TrustedKeys(p.Repository))
				if err != nil {
					return nil, nil, fmt.Errorf("%s: verify %s from %s (mirror %s): %w", ref, p, p.Repository, dir, err)
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
				return nil, nil, fmt.Errorf("%s: verify %s from %s: the signed index no longer lists it", ref, p, p.Repository)
			}
			if got := entry.ChecksumString(); got != p.Checksum {
				return nil, nil, fmt.Errorf("%s: verify %s from %s: the signed index says checksum %s, the lock %s (resolve again)", ref, p, p.Repository, got, p.Checksum)
			}
			pkgs = append(pkgs, mirrorPackage{file: filepath.Join(dir, arch.ToAPK(), entry.Filename()), pkg: p, arch: arch, size: entry.Size})
		}
	}
	out := make(map[string]string, len(sums))
	for u, h := range sums {
		out[u] = hex.EncodeToString(h.Sum(nil))
	}
	return out, pkgs, nil
}

// verifyPackages checks each mirrored package file against its index entry
// and the lock (control checksum, data hash, size). A package whose entry
// in apko's package cache (entry gives its directory, or "" for none to
// make) does not exist is expanded into it in the same read, so apko does
// not read and expand the file again (see PackageChecks.verify). It returns
// the files' digests ("sha256:<hex>" of the whole .apk), in the order of
// pkgs, from the same read.
func verifyPackages(ctx context.Context, ref string, pkgs []mirrorPackage, checked *PackageChecks, entry func(resolve.Package, types.Architecture) (string, error)) ([]string, error) {
	// Files are read (and expanded) side by side, as apko would expand
	// them; the first failing package in lock order is the one reported.
	errs := make([]error, len(pkgs))
	digests := make([]string, len(pkgs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, m := range pkgs {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return nil
			}
			dir, err := entry(m.pkg, m.arch)
			if err != nil {
				errs[i] = fmt.Errorf("%s: package cache: %w", ref, err)
				return nil
			}
			if digests[i], err = checked.verify(m.file, m.pkg, m.size, dir); err != nil {
				errs[i] = fmt.Errorf("%s: verify %s from %s: %s: %w", ref, m.pkg, m.pkg.Repository, m.file, err)
			}
			return nil
		})
	}
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return digests, nil
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
	// ok: the files verified, with their digests ("sha256:<hex>").
	ok map[packageCheck]string
	// verifying: files being verified, closed when done; a second caller
	// waits rather than read (and expand) the file again.
	verifying map[packageCheck]chan struct{}
	// entries: apko package cache entries checked, or absent and so made
	// by apko in this process (see verifyPackageCache); closed when done.
	entries map[string]chan struct{}
	// memo: entries checked by earlier processes (RememberEntries).
	memo *EntryMemo
	// onCheck, if set, is told of each entry checkCachedPackage reads.
	onCheck func(dir string)
	// onMade, if set, is told of each entry verifyPackage wrote.
	onMade func(dir string)
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
	return &PackageChecks{ok: map[packageCheck]string{}, verifying: map[packageCheck]chan struct{}{}, entries: map[string]chan struct{}{}}
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
		// Done only if the check waited on is still the one recorded: a
		// failed one is removed, and another call may have claimed dir.
		now, ok := c.entries[dir]
		c.mu.Unlock()
		if ok && now == done {
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

// verify verifies file (see verifyPackage) unless this process verified
// it as it is, and returns its digest.
func (c *PackageChecks) verify(file string, p resolve.Package, size uint64, entry string) (string, error) {
	if c == nil {
		_, digest, err := verifyPackage(file, p, size, "")
		return digest, err
	}
	var k packageCheck
	if fi, err := os.Stat(file); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			k = packageCheck{file: file, checksum: p.Checksum, size: size, dev: uint64(st.Dev), ino: st.Ino,
				fileSize: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
		}
	}
	c.mu.Lock()
	for k.file != "" {
		if d, ok := c.ok[k]; ok {
			c.mu.Unlock()
			return d, nil
		}
		busy, ok := c.verifying[k]
		if !ok {
			done := make(chan struct{})
			c.verifying[k] = done
			defer func() {
				c.mu.Lock()
				delete(c.verifying, k)
				c.mu.Unlock()
				close(done)
			}()
			break
		}
		c.mu.Unlock()
		<-busy
		c.mu.Lock()
	}
	_, claimed := c.entries[entry]
	c.mu.Unlock()
	// The entry is made here only if it is nowhere yet: one that exists is
	// checked before apko reads it (verifyPackageCache).
	expandTo := entry
	if _, err := os.Lstat(entry); entry == "" || claimed || !errors.Is(err, fs.ErrNotExist) {
		expandTo = ""
	}
	placed, digest, err := verifyPackage(file, p, size, expandTo)
	if err != nil {
		return "", err
	}
	if placed {
		c.made(expandTo, p)
	}
	if k.file != "" {
		c.mu.Lock()
		c.ok[k] = digest
		c.mu.Unlock()
	}
	return digest, nil
}

// made records the package cache entry dir, which verifyPackage wrote from
// the package file it verified, as checked: for this process, and in the
// EntryMemo for later ones.
func (c *PackageChecks) made(dir string, p resolve.Package) {
	state, ok := entryState(dir, p)
	c.mu.Lock()
	if _, seen := c.entries[dir]; !seen {
		done := make(chan struct{})
		close(done)
		c.entries[dir] = done
	}
	memo, onMade := c.memo, c.onMade
	c.mu.Unlock()
	if ok {
		memo.add(state)
	}
	if onMade != nil {
		onMade(dir)
	}
}

// verifyPackage checks an .apk file against its locked checksum (Q1 of the
// control segment), the data hash its control segment declares, and the
// size the index states. With expandTo set it also writes, from the same
// read, the package's entry of apko's package cache there, in apko's
// format (see expansion); the entry appears only if the file passes, and
// placed says whether this call put it there. digest is the SHA-256 of the
// whole file as read ("sha256:<hex>"), hashed in the same read: what a
// download of the file hashes to, which the APK checksum (of the control
// segment only) is not.
func verifyPackage(file string, p resolve.Package, size uint64, expandTo string) (placed bool, digest string, err error) {
	f, err := os.Open(file)
	if err != nil {
		return false, "", err
	}
	defer f.Close()
	whole := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, whole), 1<<16)
	parts, err := expandapk.Split(br)
	if err != nil {
		return false, "", fmt.Errorf("not an APK: %w", err)
	}
	control, err := io.ReadAll(parts[len(parts)-2])
	if err != nil {
		return false, "", err
	}
	sum := sha1.Sum(control) //nolint:gosec // APK control checksum
	if got := "Q1" + base64.StdEncoding.EncodeToString(sum[:]); got != p.Checksum {
		return false, "", fmt.Errorf("control checksum %s, the signed index says %s: the file was replaced after the index was signed", got, p.Checksum)
	}
	info, err := pkginfo(control)
	if err != nil {
		return false, "", err
	}
	if info["pkgname"] != p.Name || info["pkgver"] != p.Version {
		return false, "", fmt.Errorf(".PKGINFO names %s-%s", info["pkgname"], info["pkgver"])
	}
	want := info["datahash"]
	if want == "" {
		return false, "", errors.New(".PKGINFO has no datahash")
	}
	var x *expansion
	if expandTo != "" {
		var sig []byte
		if len(parts) == 3 {
			if sig, err = io.ReadAll(parts[0]); err != nil {
				return false, "", err
			}
		}
		if x, err = newExpansion(expandTo, hex.EncodeToString(sum[:]), want, sig, control); err != nil {
			return false, "", fmt.Errorf("package cache: %w", err)
		}
		defer x.abort()
	}
	h := sha256.New()
	if x == nil {
		_, err = io.Copy(h, parts[len(parts)-1])
	} else {
		err = x.copyData(io.TeeReader(parts[len(parts)-1], h))
	}
	if err != nil {
		return false, "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return false, "", fmt.Errorf("data hash %s, .PKGINFO says %s: the data segment is truncated or altered", got, want)
	}
	if st, err := f.Stat(); err == nil && size != 0 && uint64(st.Size()) != size {
		return false, "", fmt.Errorf("size %d, the signed index says %d", st.Size(), size)
	}
	// Bytes after the data segment, if any, are part of the file too.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return false, "", err
	}
	digest = "sha256:" + hex.EncodeToString(whole.Sum(nil))
	if x == nil {
		return false, digest, nil
	}
	if placed, err = x.commit(); err != nil {
		return false, "", fmt.Errorf("package cache: %w", err)
	}
	return placed, digest, nil
}

// expansion is a package cache entry being written, in a temporary
// directory beside the entry, the names apko's cachePackage gives: the
// signature and control segments as they are (<control sha1>.sig.tar.gz,
// <control sha1>.ctl.tar.gz), the data segment as it is (<data
// hash>.dat.tar.gz) and decompressed (<data hash>.dat.tar).
type expansion struct {
	entry, tmp, tar string
	ok              bool // the data decompressed: the entry can be committed
}

func newExpansion(entry, ctl, datahash string, sig, control []byte) (*expansion, error) {
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(entry), ".expand-")
	if err != nil {
		return nil, err
	}
	x := &expansion{entry: entry, tmp: tmp, tar: filepath.Join(tmp, "e", datahash+".dat.tar")}
	err = os.Mkdir(filepath.Join(tmp, "e"), 0o755)
	if err == nil && sig != nil {
		err = os.WriteFile(filepath.Join(tmp, "e", ctl+".sig.tar.gz"), sig, 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "e", ctl+".ctl.tar.gz"), control, 0o644)
	}
	if err != nil {
		x.abort()
		return nil, err
	}
	return x, nil
}

// copyData copies the data segment r to the entry's .dat.tar.gz and its
// decompressed content to .dat.tar, reading r to its end whatever happens
// to the copies. The entry is committed only if both were written and the
// data passes what apko's ExpandApk checks as it expands: it decompresses,
// and every file with an APK-TOOLS.checksum.SHA1 record has that SHA-1.
// Only a read error of r is returned.
func (x *expansion) copyData(r io.Reader) error {
	var rerr error
	src := &errReader{r: r, err: &rerr}
	gzf, gerr := os.OpenFile(x.tar+".gz", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	tarf, terr := os.OpenFile(x.tar, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if gerr != nil || terr != nil {
		for _, f := range []*os.File{gzf, tarf} {
			if f != nil {
				f.Close()
			}
		}
		_, err := io.Copy(io.Discard, src)
		return err
	}
	defer gzf.Close()
	defer tarf.Close()
	// A failed write (a full disk) stops the copies, not the read: the
	// caller hashes all of r.
	gzw := &stickyWriter{w: bufio.NewWriterSize(gzf, 1<<20)}
	tw := &stickyWriter{w: bufio.NewWriterSize(tarf, 1<<20)}
	tee := io.TeeReader(src, gzw)
	ok := false
	if zr, err := gunzip.NewReader(tee); err == nil {
		data := io.TeeReader(zr, tw)
		ok = checkFileSums(data) == nil
		if _, err := io.Copy(io.Discard, data); err != nil {
			ok = false
		}
		zr.Close()
	}
	// The rest of the segment (all of it, if it did not decompress) still
	// goes to the copy and the caller's hash.
	if _, err := io.Copy(io.Discard, tee); err != nil && rerr == nil {
		ok = false
	}
	if rerr != nil {
		return rerr
	}
	x.ok = ok && gzw.flush() == nil && tw.flush() == nil && gzf.Close() == nil && tarf.Close() == nil
	return nil
}

// checkFileSums reads the tar r and checks each regular file that carries
// an APK-TOOLS.checksum.SHA1 PAX record (hex, or Q1 and base64) against
// its content, as apko's expansion does.
func checkFileSums(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rec, ok := h.PAXRecords["APK-TOOLS.checksum.SHA1"]
		if h.Typeflag != tar.TypeReg || !ok {
			continue
		}
		var want []byte
		if b64, isQ1 := strings.CutPrefix(rec, "Q1"); isQ1 {
			want, err = base64.StdEncoding.DecodeString(b64)
		} else {
			want, err = hex.DecodeString(rec)
		}
		if err != nil {
			return fmt.Errorf("%s: checksum record %q: %w", h.Name, rec, err)
		}
		sum := sha1.New() //nolint:gosec // the checksum apk-tools records
		if _, err := io.Copy(sum, tr); err != nil {
			return err
		}
		if !bytes.Equal(sum.Sum(nil), want) {
			return fmt.Errorf("%s: content does not match its checksum record", h.Name)
		}
	}
}

// stickyWriter writes to w until a write fails, then drops the rest,
// keeping the error for flush.
type stickyWriter struct {
	w   *bufio.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err == nil {
		_, s.err = s.w.Write(p)
	}
	return len(p), nil
}

func (s *stickyWriter) flush() error {
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}

// errReader records the error its reader returns, so that a read error
// is told apart from data that does not decompress.
type errReader struct {
	r   io.Reader
	err *error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		*e.err = err
	}
	return n, err
}

// commit moves the entry into place, if its data decompressed and no
// other process made the entry meanwhile, and says whether it did. An
// entry made meanwhile is not this one: it is checked before apko reads it.
func (x *expansion) commit() (bool, error) {
	if !x.ok {
		return false, nil
	}
	err := os.Rename(filepath.Join(x.tmp, "e"), x.entry)
	if err != nil {
		if _, serr := os.Lstat(x.entry); serr == nil {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (x *expansion) abort() { os.RemoveAll(x.tmp) }

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
