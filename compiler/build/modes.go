package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"

	"chainguard.dev/apko/pkg/apk/apk"
	apkfs "chainguard.dev/apko/pkg/apk/fs"
	"chainguard.dev/apko/pkg/tarfs"
)

// modeFS is the filesystem apko installs into, keeping the special mode bits
// (setuid, setgid, sticky) apko drops:
//
//   - a package's directory or file: apko writes it with only its permission
//     bits (MkdirAll with Mode().Perm()), so /var/tmp 1777 became 0777 and a
//     setuid binary lost its setuid bit;
//   - a paths entry: apko passes the spec's Unix mode (0o1777) as an
//     fs.FileMode, where the Unix special bits mean nothing.
//
// Chmod reads the Unix special bits of a mode as fs.ModeSetuid, ModeSetgid
// and ModeSticky, and a package directory header with special bits is
// chmodded after apko created it.
//
// It also records what hic's layering (see assemble.go) needs to know of the
// install: which package file each installed path holds, which packages wrote
// through a symbolic link, and each package's entry of the installed database.
type modeFS struct {
	apkfs.FullFS
	wh apk.WriteHeaderer

	mu sync.Mutex
	// installed: path as apko wrote it -> the package file it holds.
	installed map[string]pkgFile
	// indirect: packages that wrote a file below a symbolic link (its path
	// in the tree is not the path it was written as).
	indirect map[*apk.Package]bool
	// idb: each append to the installed database, in order.
	idb [][]byte
}

// pkgFile is a regular file as a package installed it.
type pkgFile struct {
	pkg  *apk.Package
	name string // in the package's data tar
	size int64
}

// newModeFS wraps a fresh tarfs.
func newModeFS() *modeFS {
	t := tarfs.New()
	return &modeFS{FullFS: t, wh: t, installed: map[string]pkgFile{}, indirect: map[*apk.Package]bool{}}
}

var _ apk.WriteHeaderer = (*modeFS)(nil)

// unixSpecial moves the Unix special bits (0o7000) of m into fs.FileMode's.
func unixSpecial(m fs.FileMode) fs.FileMode {
	out := m &^ 0o7000
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

func (m *modeFS) Chmod(path string, perm fs.FileMode) error {
	return m.FullFS.Chmod(path, unixSpecial(perm))
}

// WriteHeader installs one file of a package (apko's fast path) and gives a
// directory or regular file back the special bits of its header (a setuid
// binary stays setuid, so the post-build fs-setuid rule sees it).
func (m *modeFS) WriteHeader(hdr tar.Header, tfs fs.FS, pkg *apk.Package) (bool, error) {
	if err := m.checkEntry(hdr, pkg); err != nil {
		return false, fmt.Errorf("package %s-%s: %w", pkg.Name, pkg.Version, err)
	}
	ok, err := m.wh.WriteHeader(hdr, tfs, pkg)
	if err == nil && ok && hdr.Typeflag == tar.TypeReg {
		m.record(hdr, pkg)
	}
	if err != nil || !ok && hdr.Typeflag != tar.TypeDir || hdr.Typeflag != tar.TypeDir && hdr.Typeflag != tar.TypeReg || hdr.Mode&0o7000 == 0 {
		return ok, err
	}
	fi, serr := m.FullFS.Lstat(hdr.Name)
	if serr != nil || fi.IsDir() != (hdr.Typeflag == tar.TypeDir) || fi.Mode()&fs.ModeSymlink != 0 {
		return ok, err // a symlink to a directory apko kept as it was
	}
	return ok, m.FullFS.Chmod(hdr.Name, hdr.FileInfo().Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}

// checkEntry refuses a package entry that would make the image differ from
// what the checks see, or the build loop:
//   - a name that is not a plain path inside the root (a "." or ".."
//     element, an empty one): apko's tree would hold a directory named "..";
//   - a name with an element starting with ".wh.": in a layer it is an OCI
//     whiteout, and a runtime unpacking the image would delete files the
//     checks and the report saw;
//   - a hard link whose target is not a plain path, is a directory (no
//     runtime can unpack one) or is another package's file (the link would
//     land in that package's layer).
func (m *modeFS) checkEntry(hdr tar.Header, pkg *apk.Package) error {
	name, ok := entryPath(hdr.Name)
	if !ok {
		return fmt.Errorf("entry %q is not a plain path inside the image (no . or .. or empty elements): refused", hdr.Name)
	}
	for _, elem := range strings.Split(name, "/") {
		if strings.HasPrefix(elem, ".wh.") {
			return fmt.Errorf("entry %q is named like an OCI whiteout (.wh.*): in an image layer it would delete files when the image is unpacked, so no package may ship one", hdr.Name)
		}
	}
	if hdr.Typeflag != tar.TypeLink {
		return nil
	}
	target, ok := entryPath(hdr.Linkname)
	if !ok {
		return fmt.Errorf("hard link %q to %q: the target is not a plain path inside the image: refused", hdr.Name, hdr.Linkname)
	}
	if fi, err := m.FullFS.Lstat(target); err == nil && fi.IsDir() {
		return fmt.Errorf("hard link %q to the directory %q: refused (a runtime cannot unpack a hard link to a directory)", hdr.Name, hdr.Linkname)
	}
	m.mu.Lock()
	owner, ok := m.installed[path.Clean(target)]
	m.mu.Unlock()
	if ok && owner.pkg != pkg {
		return fmt.Errorf("hard link %q to %q, a file of package %s: a hard link may only name a file of its own package", hdr.Name, hdr.Linkname, owner.pkg.Name)
	}
	return nil
}

// entryPath is a tar entry's name as a path of the image's tree (at most one
// leading and one trailing slash dropped); ok is false unless it is a
// valid, clean path below the root.
func entryPath(name string) (string, bool) {
	p := strings.TrimSuffix(strings.TrimPrefix(name, "/"), "/")
	return p, p != "." && fs.ValidPath(p)
}

// record notes that pkg installed hdr (a regular file).
func (m *modeFS) record(hdr tar.Header, pkg *apk.Package) {
	name := path.Clean(hdr.Name)
	below := false
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		// Readlink, as this filesystem's Lstat follows a final link.
		if _, err := m.FullFS.Readlink(d); err == nil {
			below = true
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.installed[name] = pkgFile{pkg: pkg, name: hdr.Name, size: hdr.Size}
	if below {
		m.indirect[pkg] = true
	}
}

// OpenFile records what is appended to the installed database: apko appends
// each package's entry with one write.
func (m *modeFS) OpenFile(name string, flag int, perm fs.FileMode) (apkfs.File, error) {
	f, err := m.FullFS.OpenFile(name, flag, perm)
	if err != nil || flag&os.O_APPEND == 0 || path.Clean(name) != installedDB {
		return f, err
	}
	return &idbFile{File: f, m: m}, nil
}

// installedDB is apko's installed database.
const installedDB = "usr/lib/apk/db/installed"

type idbFile struct {
	apkfs.File
	m *modeFS
}

func (f *idbFile) Write(b []byte) (int, error) {
	n, err := f.File.Write(b)
	f.m.mu.Lock()
	f.m.idb = append(f.m.idb, bytes.Clone(b[:n]))
	f.m.mu.Unlock()
	return n, err
}

// Sub is refused: what is written through a sub-filesystem would escape the
// records above. apko does not call it while building an image.
func (m *modeFS) Sub(dir string) (apkfs.FullFS, error) {
	return nil, fmt.Errorf("hic's install filesystem: Sub(%q) is not supported", dir)
}
