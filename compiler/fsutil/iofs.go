package fsutil

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// UnixMode returns the permission, setuid, setgid and sticky bits of m as
// the Unix mode bits a tar header or chmod takes (0o4755): io/fs keeps the
// last three in bits of its own.
func UnixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// ReadDirNext answers fs.ReadDirFile's ReadDir(n) for an in-memory
// directory from *rest, the entries not yet returned, and keeps the rest
// there: for n <= 0 all of them (and a nil error, even when there are
// none), else at most n, and io.EOF when none are left.
func ReadDirNext(rest *[]fs.DirEntry, n int) ([]fs.DirEntry, error) {
	ents := *rest
	if n <= 0 {
		*rest = nil
		return ents, nil
	}
	if len(ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(ents))
	*rest = ents[n:]
	return ents[:n], nil
}

// Unchanged reports whether a and b are stats of the same regular file
// (device and inode) with the same size, modification and change times:
// nothing was written to it, and its mode, owner and links did not change,
// between the two. A file unchanged since its content was hashed still has
// that content, unless a writer reset both times, which no unprivileged
// call can do for the change time.
func Unchanged(a, b fs.FileInfo) bool {
	if a == nil || b == nil || !a.Mode().IsRegular() || !b.Mode().IsRegular() || !os.SameFile(a, b) {
		return false
	}
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	return okA && okB && sa.Size == sb.Size && sa.Mtim == sb.Mtim && sa.Ctim == sb.Ctim
}
