package build

import (
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/hic-build/hic/compiler/memofile"
	"github.com/hic-build/hic/compiler/resolve"
)

// EntryMemo remembers, across processes, the entries of apko's package
// cache that passed checkCachedPackage, so that a later build does not
// decompress and hash them again. An entry is remembered by a hash of its
// state: its path, the locked checksum, and the name and file identity
// (device, inode, size, modification and change time, mode) of everything
// in it, and of what its symbolic links point to. Any write to a file of
// the entry, a file added, removed or renamed, or a link pointed elsewhere
// gives another state, which is checked again.
//
// The file is a memo file (package memofile) under the key of the layout's
// memo of checks: whoever can write the package cache but not that key
// cannot make an edited entry pass. A nil *EntryMemo remembers nothing.
type EntryMemo struct {
	path string
	key  []byte

	mu    sync.Mutex
	good  map[[sha256.Size]byte]bool // read from the file or checked now
	dirty bool
}

const (
	entryMemoFormat = "hic checked package cache entries v1\n"
	// entryMemoMax bounds the file: older entries are dropped beyond it.
	entryMemoMax = 64 << 10
)

// OpenEntryMemo reads the memo at path, if it is there and authentic under
// key. A nil key gives a memo that remembers nothing.
func OpenEntryMemo(path string, key []byte) *EntryMemo {
	m := &EntryMemo{path: path, key: slices.Clone(key), good: map[[sha256.Size]byte]bool{}}
	body, ok := memofile.Read(path, entryMemoFormat, key)
	if !ok || len(body)%sha256.Size != 0 {
		return m
	}
	for ; len(body) > 0; body = body[sha256.Size:] {
		m.good[[sha256.Size]byte(body[:sha256.Size])] = true
	}
	return m
}

// known reports whether an entry in state was checked good.
func (m *EntryMemo) known(state [sha256.Size]byte) bool {
	if m == nil || m.key == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.good[state]
}

func (m *EntryMemo) add(state [sha256.Size]byte) {
	if m == nil || m.key == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.good[state] {
		m.good[state] = true
		m.dirty = true
	}
}

// Save writes the memo back if this process checked an entry it did not
// hold. Failing to write only costs the next build its speed.
func (m *EntryMemo) Save() error {
	if m == nil || m.key == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirty {
		return nil
	}
	body := make([]byte, 0, sha256.Size*min(len(m.good), entryMemoMax))
	n := 0
	for k := range m.good {
		if n == entryMemoMax {
			break
		}
		body = append(body, k[:]...)
		n++
	}
	if err := os.MkdirAll(filepath.Dir(m.path), 0o755); err != nil {
		return err
	}
	if err := memofile.Write(m.path, entryMemoFormat, m.key, body); err != nil {
		return err
	}
	m.dirty = false
	return nil
}

// entryState hashes the state of the package cache entry dir of package p
// (see EntryMemo); ok is false when some file of it cannot be looked at.
func entryState(dir string, p resolve.Package) (state [sha256.Size]byte, ok bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return state, false
	}
	h := sha256.New()
	h.Write([]byte(entryMemoFormat))
	put := func(s string) {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	putID := func(fi os.FileInfo) bool {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		for _, v := range []uint64{uint64(st.Dev), st.Ino, uint64(st.Size), uint64(st.Mtim.Nano()), uint64(st.Ctim.Nano()), uint64(fi.Mode())} { //nolint:unconvert // Dev is uint32 on some platforms
			h.Write(binary.LittleEndian.AppendUint64(nil, v))
		}
		return true
	}
	put(dir)
	put(p.Checksum)
	var walk func(dir string, ents []os.DirEntry) bool
	walk = func(dir string, ents []os.DirEntry) bool {
		for _, e := range ents {
			full := filepath.Join(dir, e.Name())
			put(e.Name())
			fi, err := os.Lstat(full)
			if err != nil || !putID(fi) {
				return false
			}
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				target, err := os.Readlink(full)
				if err != nil {
					return false
				}
				put(target)
				if fi, err = os.Stat(full); err != nil || !putID(fi) {
					return false
				}
			case fi.IsDir():
				sub, err := os.ReadDir(full)
				if err != nil || !walk(full, sub) {
					return false
				}
			}
		}
		put("") // end of this directory
		return true
	}
	if !walk(dir, ents) {
		return state, false
	}
	return [sha256.Size]byte(h.Sum(nil)), true
}
