package build

import (
	"archive/tar"
	"io/fs"

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
type modeFS struct {
	apkfs.FullFS
	wh apk.WriteHeaderer
}

// newModeFS wraps a fresh tarfs.
func newModeFS() *modeFS {
	t := tarfs.New()
	return &modeFS{FullFS: t, wh: t}
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
	ok, err := m.wh.WriteHeader(hdr, tfs, pkg)
	if err != nil || !ok && hdr.Typeflag != tar.TypeDir || hdr.Typeflag != tar.TypeDir && hdr.Typeflag != tar.TypeReg || hdr.Mode&0o7000 == 0 {
		return ok, err
	}
	fi, serr := m.FullFS.Lstat(hdr.Name)
	if serr != nil || fi.IsDir() != (hdr.Typeflag == tar.TypeDir) || fi.Mode()&fs.ModeSymlink != 0 {
		return ok, err // a symlink to a directory apko kept as it was
	}
	return ok, m.FullFS.Chmod(hdr.Name, hdr.FileInfo().Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}
