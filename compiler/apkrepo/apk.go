package apkrepo

import (
	"archive/tar"
	"bytes"
	"crypto/sha1" //nolint:gosec // apk-tools file checksums are SHA-1
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	"github.com/klauspost/compress/gzip"

	"github.com/hic-build/hic/compiler/fsutil"
)

// FileKind is the type of a package file.
type FileKind int

// The kinds of file a package can ship. The zero value is a regular file.
const (
	KindRegular FileKind = iota
	KindDir
	KindSymlink
)

func (k FileKind) String() string {
	switch k {
	case KindRegular:
		return "regular"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	}
	return fmt.Sprintf("FileKind(%d)", int(k))
}

// File is one entry of a package's data section.
type File struct {
	// Path is relative to the root, without a leading slash: "usr/bin/nginx".
	Path string
	// Mode holds the permission bits plus fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky; other type bits are ignored (Kind decides the type).
	// Zero means 0644 for regular files, 0755 for dirs, 0777 for symlinks.
	Mode fs.FileMode
	Kind FileKind
	// Target is the link target of a symlink ("/bin/busybox" or "busybox").
	Target string
	// Data is the content of a regular file. When Data is nil, the file has
	// Size deterministic pseudo-random bytes derived from Seed, generated
	// while the package is written (never held in memory whole).
	Data []byte
	Size int64
	Seed uint64
	// Head, with Data nil, replaces the first bytes of the generated
	// content (a synthetic executable's program, VersionProgram); Size
	// still counts the whole file and is at least len(Head).
	Head []byte
}

// Package describes one APK package. Name, Version and Arch are required.
type Package struct {
	Name    string
	Version string // apk version, e.g. "1.27.3-r0"
	Arch    string // apk arch: "x86_64" or "aarch64"
	Origin  string // source package; defaults to Name
	// Description, License (SPDX expression) and URL go to .PKGINFO as is.
	Description, License, URL string
	// Depends and Provides are apk dependency strings: "glibc",
	// "so:libc.so.6", "openssl>=3", "cmd:sh=1.36.1-r0".
	Depends, Provides []string
	// Files need not list parent directories: missing ones are added with
	// mode 0755.
	Files []File
	// BuildTime is the builddate and the mtime of every entry; zero means
	// DefaultBuildTime.
	BuildTime time.Time
}

// DefaultBuildTime is used when Package.BuildTime or SynthOptions.BuildTime
// is zero: 2025-01-01T00:00:00Z.
func DefaultBuildTime() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }

func (p Package) String() string { return p.Arch + "/" + p.Name + "-" + p.Version }

// validArch reports whether a is an apk architecture name.
func validArch(a string) bool {
	switch a {
	case "x86_64", "aarch64", "armv7", "armhf", "x86", "ppc64le", "s390x", "riscv64", "loongarch64":
		return true
	}
	return false
}

func (p Package) validate() error {
	switch {
	case p.Name == "" || strings.ContainsAny(p.Name, " \t\n/=<>~"):
		return fmt.Errorf("invalid package name %q", p.Name)
	case p.Version == "":
		return errors.New("empty version")
	case !validArch(p.Arch):
		return fmt.Errorf("invalid apk arch %q (want x86_64 or aarch64, not amd64/arm64)", p.Arch)
	case strings.ContainsAny(p.Description+p.License+p.URL+p.Origin, "\n"):
		return errors.New("metadata contains a newline")
	}
	if _, err := apk.ParseVersion(p.Version); err != nil {
		return fmt.Errorf("version %q: %w", p.Version, err)
	}
	for _, d := range slices.Concat(p.Depends, p.Provides) {
		if d == "" || strings.ContainsAny(d, " \t\n") {
			return fmt.Errorf("invalid depends/provides entry %q", d)
		}
	}
	return nil
}

func (f File) validate() error {
	switch {
	case f.Path == "" || strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path ||
		f.Path == "." || f.Path == ".." || strings.HasPrefix(f.Path, "../"):
		return fmt.Errorf("file path %q: want a clean relative path without a leading slash", f.Path)
	case f.Kind == KindSymlink && f.Target == "":
		return fmt.Errorf("symlink %s: empty target", f.Path)
	case f.Kind != KindSymlink && f.Target != "":
		return fmt.Errorf("%s %s: target set on a non-symlink", f.Kind, f.Path)
	case f.Kind > KindSymlink || f.Kind < KindRegular:
		return fmt.Errorf("file %s: unknown kind %d", f.Path, int(f.Kind))
	case f.Kind == KindRegular && f.Data != nil && f.Size != 0 && f.Size != int64(len(f.Data)):
		return fmt.Errorf("file %s: Size %d differs from len(Data) %d", f.Path, f.Size, len(f.Data))
	case f.Size < 0:
		return fmt.Errorf("file %s: negative size", f.Path)
	case f.Kind != KindRegular && (f.Data != nil || f.Size != 0):
		return fmt.Errorf("%s %s: has content", f.Kind, f.Path)
	}
	return nil
}

// tarMode converts f's mode to Unix mode bits for a tar header.
func (f File) tarMode() int64 {
	m := f.Mode
	if m.Perm() == 0 && m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 {
		switch f.Kind {
		case KindDir:
			m = 0o755
		case KindSymlink:
			m = 0o777
		default:
			m = 0o644
		}
	}
	return int64(fsutil.UnixMode(m))
}

func (f File) reader() io.Reader {
	if f.Data != nil {
		return bytes.NewReader(f.Data)
	}
	if len(f.Head) > 0 {
		return io.MultiReader(bytes.NewReader(f.Head), content(f.Seed, f.size()-int64(len(f.Head))))
	}
	return content(f.Seed, f.Size)
}

func (f File) size() int64 {
	if f.Data != nil {
		return int64(len(f.Data))
	}
	return max(f.Size, int64(len(f.Head)))
}

// gzipLevel is the compression level of every gzip stream written here:
// the fastest, since generating large repositories is dominated by it.
// The output of one level of one compressor version is stable, which keeps
// packages byte-identical across runs.
const gzipLevel = gzip.BestSpeed

// builder holds the compressor and buffers one goroutine reuses from
// package to package; a fresh compressor per stream costs more than
// compressing a small package.
type builder struct {
	zw        *gzip.Writer
	raw, data bytes.Buffer
}

func newBuilder() *builder {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzipLevel) // the level is valid
	return &builder{zw: zw}
}

// gzip compresses everything written by fn into one gzip stream on w.
func (b *builder) gzip(w io.Writer, fn func(io.Writer) error) error {
	b.zw.Reset(w)
	if err := fn(b.zw); err != nil {
		return err
	}
	return b.zw.Close()
}

// BuildAPK returns a signed APKv2 package: a signature gzip stream over the
// control stream, the control stream (.PKGINFO with size and datahash) and
// the data stream (a tar with APK-TOOLS.checksum.SHA1 PAX records). Entries
// are sorted by path and stamped with p.BuildTime, so the bytes depend only
// on p and key.
func BuildAPK(p Package, key *Key) ([]byte, error) {
	b := newBuilder()
	a, err := b.build(p, key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, a.size())
	return append(append(append(out, a.sig...), a.control...), a.data...), nil
}

// builtAPK holds the three gzip streams of a package. data belongs to the
// builder and is only valid until its next build.
type builtAPK struct {
	sig, control, data []byte
}

func (a builtAPK) size() int { return len(a.sig) + len(a.control) + len(a.data) }

// writeTo writes the package to w.
func (a builtAPK) writeTo(w io.Writer) error {
	for _, part := range [][]byte{a.sig, a.control, a.data} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) build(p Package, key *Key) (builtAPK, error) {
	if key == nil {
		return builtAPK{}, fmt.Errorf("package %s: nil key", p)
	}
	if err := p.validate(); err != nil {
		return builtAPK{}, fmt.Errorf("package %s: %w", p, err)
	}
	if p.BuildTime.IsZero() {
		p.BuildTime = DefaultBuildTime()
	}
	p.BuildTime = p.BuildTime.UTC().Truncate(time.Second)
	files, err := completeTree(p.Files)
	if err != nil {
		return builtAPK{}, fmt.Errorf("package %s: %w", p, err)
	}

	b.data.Reset()
	datahash := sha256.New()
	var installed int64
	err = b.gzip(io.MultiWriter(&b.data, datahash), func(w io.Writer) error {
		var err error
		installed, err = writeData(w, files, p.BuildTime)
		return err
	})
	if err != nil {
		return builtAPK{}, fmt.Errorf("package %s: data: %w", p, err)
	}

	control, err := b.tarSegment([]tarEntry{{name: ".PKGINFO", body: pkginfo(p, installed, hex.EncodeToString(datahash.Sum(nil)))}}, p.BuildTime)
	if err != nil {
		return builtAPK{}, fmt.Errorf("package %s: control: %w", p, err)
	}
	sig, err := b.signatureSegment(key, control, p.BuildTime)
	if err != nil {
		return builtAPK{}, fmt.Errorf("package %s: %w", p, err)
	}
	return builtAPK{sig: sig, control: control, data: b.data.Bytes()}, nil
}

// completeTree validates files, adds missing parent directories and sorts
// the result by path.
func completeTree(in []File) ([]File, error) {
	seen := make(map[string]bool, len(in))
	files := make([]File, 0, len(in)+8)
	for _, f := range in {
		if err := f.validate(); err != nil {
			return nil, err
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("duplicate file %s", f.Path)
		}
		seen[f.Path] = true
		files = append(files, f)
	}
	for _, f := range in {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if seen[d] {
				continue
			}
			seen[d] = true
			files = append(files, File{Path: d, Kind: KindDir, Mode: 0o755})
		}
	}
	kinds := make(map[string]FileKind, len(files))
	for _, f := range files {
		kinds[f.Path] = f.Kind
	}
	for _, f := range in {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if kinds[d] != KindDir {
				return nil, fmt.Errorf("%s: parent %s is a %s, not a dir", f.Path, d, kinds[d])
			}
		}
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// writeData writes the data section (a complete tar) and returns the
// installed size (sum of regular file sizes).
func writeData(w io.Writer, files []File, mtime time.Time) (int64, error) {
	tw := tar.NewWriter(w)
	var installed int64
	for _, f := range files {
		h := &tar.Header{
			Name: f.Path, Mode: f.tarMode(), ModTime: mtime,
			Uname: "root", Gname: "root", Format: tar.FormatPAX,
		}
		switch f.Kind {
		case KindDir:
			h.Typeflag, h.Name = tar.TypeDir, f.Path+"/"
		case KindSymlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Target
			sum := sha1.Sum([]byte(f.Target)) //nolint:gosec
			h.PAXRecords = map[string]string{"APK-TOOLS.checksum.SHA1": hex.EncodeToString(sum[:])}
		default:
			h.Typeflag, h.Size = tar.TypeReg, f.size()
			sum := sha1.New() //nolint:gosec
			if _, err := io.Copy(sum, f.reader()); err != nil {
				return 0, fmt.Errorf("%s: %w", f.Path, err)
			}
			h.PAXRecords = map[string]string{"APK-TOOLS.checksum.SHA1": hex.EncodeToString(sum.Sum(nil))}
			installed += h.Size
		}
		if err := tw.WriteHeader(h); err != nil {
			return 0, fmt.Errorf("%s: %w", f.Path, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, f.reader()); err != nil {
				return 0, fmt.Errorf("%s: %w", f.Path, err)
			}
		}
	}
	return installed, tw.Close()
}

// pkginfo renders .PKGINFO in abuild's field order.
func pkginfo(p Package, installed int64, datahash string) string {
	origin := p.Origin
	if origin == "" {
		origin = p.Name
	}
	var b strings.Builder
	b.WriteString("# Generated by hic apkrepo\n")
	fmt.Fprintf(&b, "pkgname = %s\npkgver = %s\npkgdesc = %s\nurl = %s\nbuilddate = %d\nsize = %d\narch = %s\norigin = %s\nlicense = %s\n",
		p.Name, p.Version, p.Description, p.URL, p.BuildTime.Unix(), installed, p.Arch, origin, p.License)
	for _, d := range p.Depends {
		fmt.Fprintf(&b, "depend = %s\n", d)
	}
	for _, d := range p.Provides {
		fmt.Fprintf(&b, "provides = %s\n", d)
	}
	fmt.Fprintf(&b, "datahash = %s\n", datahash)
	return b.String()
}

type tarEntry struct {
	name, body string
}

// tarSegment returns a gzipped tar without end-of-archive blocks, the form
// apk uses for the signature and control sections so streams concatenate.
func (b *builder) tarSegment(entries []tarEntry, mtime time.Time) ([]byte, error) {
	b.raw.Reset()
	tw := tar.NewWriter(&b.raw)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{
			Name: e.name, Mode: 0o644, Size: int64(len(e.body)), ModTime: mtime,
			Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
		}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Flush(); err != nil { // pad the last entry; no Close: no EOF blocks
		return nil, err
	}
	var out bytes.Buffer
	err := b.gzip(&out, func(w io.Writer) error {
		_, err := w.Write(b.raw.Bytes())
		return err
	})
	return out.Bytes(), err
}

// signatureSegment signs the gzip stream signed with key and returns the
// signature section that goes in front of it.
func (b *builder) signatureSegment(key *Key, signed []byte, mtime time.Time) ([]byte, error) {
	sig, err := key.sign(signed)
	if err != nil {
		return nil, err
	}
	return b.tarSegment([]tarEntry{{name: key.signatureEntryName(), body: string(sig)}}, mtime)
}
