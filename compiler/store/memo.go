package store

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/memofile"
)

// The memo of checks (memoName in the layout) lets a later process trust
// what an earlier one hashed, as long as nothing touched the files since:
//
//   - a blob hashed and found good is remembered with its file identity
//     (device, inode, size, modification and change time). Any write to the
//     file or its replacement gives it a new change time, which no
//     unprivileged process can set back, so a blob with the same identity
//     has the content that was hashed;
//   - the subject of a referrer manifest, with the manifest's identity;
//   - an image index that Verify passed, with the blobs its walk checked and
//     the referrers index.json listed for it then: the same referrers and
//     every blob with its remembered identity pass again without a read.
//
// The file is authenticated with an HMAC-SHA256 under a key kept outside
// the layout (MemoKey, in the user's cache directory), so whoever can write
// the layout but not that key cannot forge it; a memo that fails the check,
// or is missing, is ignored and everything is hashed again. It is only an
// accelerator: deleting it costs the next build a full verification.
const (
	memoName   = ".hic-checked"
	memoFormat = "hic checked v1\n"
	memoKeyLen = 32
)

// fileID tells one state of a file from another without reading it.
type fileID struct {
	Dev, Ino           uint64
	Size, Mtime, Ctime int64
}

func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.Mode().IsRegular() {
		return fileID{}, false
	}
	return fileID{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true //nolint:unconvert // Dev is uint32 on some platforms
}

func statID(p string) (fileID, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return fileID{}, false
	}
	return idOf(fi)
}

// blobID is the identity of stored blob h, looked up relative to the open
// blobs directory (one path component instead of the whole path: a no-op
// build of the catalog stats some 60,000 blobs).
func (s *Store) blobID(h v1.Hash) (fileID, bool) {
	if s.onBlobStat != nil {
		s.onBlobStat(h)
	}
	if s.blobDir == nil || h.Algorithm != "sha256" || len(h.Hex) != 64 || strings.ContainsRune(h.Hex, '/') {
		return statID(s.blobPath(h))
	}
	var st unix.Stat_t
	for {
		err := unix.Fstatat(int(s.blobDir.Fd()), h.Hex, &st, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fileID{}, false
		}
		break
	}
	return fileID{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true //nolint:unconvert // Dev is uint32 on some platforms
}

type subjectMemo struct {
	ID      fileID
	Subject v1.Hash
}

type imageMemo struct {
	// Blobs are every blob Verify's walk checked, in walk order.
	Blobs []v1.Hash
	// Subjects are the index and its platform manifests.
	Subjects []v1.Hash
	// Referrers are the referrer manifests index.json listed for the index
	// and its platform manifests, sorted.
	Referrers []v1.Hash
}

// memo is the decoded memo file; the zero value remembers nothing and is
// never saved (no key).
type memo struct {
	key []byte // nil: the memo is off

	mu       sync.Mutex
	Blobs    map[v1.Hash]fileID
	Subjects map[v1.Hash]subjectMemo
	Images   map[v1.Hash]imageMemo
	dirty    bool
	// now are the images verified in this process (not saved), with the
	// generation of index.json (plus one) they were verified at: the
	// pipeline asks Has and then Verify of each cached spec, and a Put
	// meanwhile may have changed their referrers.
	now map[v1.Hash]uint64
	// seen are the blobs found good in this process (hashed, written, or
	// with their remembered identity), so a layer shared by many images is
	// looked at once.
	seen map[v1.Hash]bool
}

// MemoKey returns the key that authenticates layouts' memos of checks,
// kept in dir (created with mode 0700; the key file 0600), creating it on
// first use.
func MemoKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, "checked.key")
	b, err := os.ReadFile(p)
	if err == nil && len(b) == memoKeyLen {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("memo key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("memo key: %w", err)
	}
	k := make([]byte, memoKeyLen)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("memo key: %w", err)
	}
	if err := fsutil.WriteFileAtomic(p, k, 0o600); err != nil {
		return nil, fmt.Errorf("memo key: %w", err)
	}
	return k, nil
}

// RememberChecks turns on the memo of checks under key (see MemoKey): it
// reads the layout's memo, if one is there and authentic, and Close writes
// it back with what this process checked.
func (s *Store) RememberChecks(key []byte) {
	s.RememberPrefetchedChecks(key, nil)
}

// ChecksPrefetch is a layout's memo of checks read, authenticated and
// decoded in the background (PrefetchChecks), before its store is opened.
type ChecksPrefetch struct {
	done chan struct{}
	dir  string
	key  []byte
	read *memo // what was read: Blobs, Subjects and Images (nil maps: nothing)
}

// PrefetchChecks starts reading the memo of checks of the layout at dir
// under key, without the layout's lock and writing nothing: a build loads
// the catalog meanwhile. Whatever authentic memo it reads is safe to use
// even if another process replaced it since (every entry holds only while
// its file has the identity it names); RememberPrefetchedChecks takes it.
func PrefetchChecks(dir string, key []byte) *ChecksPrefetch {
	p := &ChecksPrefetch{done: make(chan struct{}), dir: dir, key: slices.Clone(key), read: &memo{}}
	go func() {
		defer close(p.done)
		p.read.read(filepath.Join(dir, memoName), p.key)
	}()
	return p
}

// RememberPrefetchedChecks is RememberChecks with the memo as pre read it,
// when pre was read from this layout under key (pre may be nil).
func (s *Store) RememberPrefetchedChecks(key []byte, pre *ChecksPrefetch) {
	var read *memo
	if pre != nil {
		<-pre.done
		if pre.dir == s.dir && bytes.Equal(pre.key, key) {
			read = pre.read
		}
	}
	if read == nil {
		read = &memo{}
		read.read(filepath.Join(s.dir, memoName), key)
	}
	m := &s.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	m.key = slices.Clone(key)
	m.Blobs, m.Subjects, m.Images = map[v1.Hash]fileID{}, map[v1.Hash]subjectMemo{}, map[v1.Hash]imageMemo{}
	if read.Blobs == nil {
		return // none, forged, or not decoded whole: nothing is remembered
	}
	m.Blobs, m.Subjects, m.Images = read.Blobs, read.Subjects, read.Images
	m.seen = make(map[v1.Hash]bool, len(m.Blobs))
}

// read reads and decodes the memo file at p if it is authentic under key,
// setting Blobs, Subjects and Images; it leaves them nil when the file is
// missing, forged or does not decode whole.
func (m *memo) read(p string, key []byte) {
	body, ok := memofile.Read(p, memoFormat, key)
	if !ok {
		return
	}
	_ = m.decode(body) // sets nothing unless it decodes whole
}

// saveMemo writes the memo if it changed, keeping the images index.json
// still lists (GC forgets the blobs it removes); failures only cost the
// next build its speed.
func (s *Store) saveMemo() {
	m := &s.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == nil || !m.dirty || s.readOnly {
		return
	}
	s.mu.Lock()
	listed := make(map[v1.Hash]bool, len(s.manifest.Manifests))
	for _, d := range s.manifest.Manifests {
		listed[d.Digest] = true
	}
	s.mu.Unlock()
	for h := range m.Images {
		if !listed[h] {
			delete(m.Images, h)
		}
	}
	body := m.encode()
	if memofile.Write(filepath.Join(s.dir, memoName), memoFormat, m.key, body) == nil {
		m.dirty = false
	}
}

// knownGood reports whether id is the identity blob h had when it was
// hashed and found good.
func (m *memo) knownGood(h v1.Hash, id fileID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.Blobs[h]
	if ok && old == id {
		m.seenLocked(h)
		return true
	}
	return false
}

func (m *memo) seenLocked(h v1.Hash) {
	if m.seen == nil {
		m.seen = map[v1.Hash]bool{}
	}
	m.seen[h] = true
}

// unseen returns the blobs of hs not found good earlier in this process
// (one lock for an image's blobs, not one per blob).
func (m *memo) unseen(hs []v1.Hash) []v1.Hash {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]v1.Hash, 0, len(hs))
	for _, h := range hs {
		if !m.seen[h] {
			out = append(out, h)
		}
	}
	return out
}

// allKnownGood reports whether each blob hs[i] has identity ids[i], the one
// it had when it was hashed and found good; those that do are seen.
func (m *memo) allKnownGood(hs []v1.Hash, ids []fileID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, h := range hs {
		if old, ok := m.Blobs[h]; !ok || old != ids[i] {
			return false
		}
		m.seenLocked(h)
	}
	return true
}

func (m *memo) markGood(h v1.Hash, id fileID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Blobs == nil {
		m.Blobs = map[v1.Hash]fileID{}
	}
	if old, ok := m.Blobs[h]; !ok || old != id {
		m.Blobs[h] = id
		m.dirty = m.dirty || m.key != nil
	}
	m.seenLocked(h)
}

func (m *memo) forget(h v1.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.Blobs[h]; ok {
		delete(m.Blobs, h)
		m.dirty = m.dirty || m.key != nil
	}
	delete(m.Images, h)
	delete(m.seen, h)
	m.now = nil // which of them held h is not recorded
}

func (m *memo) verifiedNow(h v1.Hash, gen uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now[h] == gen+1
}

// goodSubject returns the remembered subject of h when id is the identity
// h had when its subject was read. When id is also the one h had when it
// was last hashed good, h is seen (found good in this process): the check
// of the image that holds it does not stat it again.
func (m *memo) goodSubject(h v1.Hash, id fileID) (v1.Hash, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.Subjects[h]
	if !ok || r.ID != id {
		return v1.Hash{}, false
	}
	if old, ok := m.Blobs[h]; ok && old == id {
		m.seenLocked(h)
	}
	return r.Subject, true
}

// seenSubject returns the remembered subject of h when h was found good
// in this process with the identity the subject was read at: no stat.
func (m *memo) seenSubject(h v1.Hash) (v1.Hash, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.Subjects[h]
	if !ok || !m.seen[h] || m.Blobs[h] != r.ID {
		return v1.Hash{}, false
	}
	return r.Subject, true
}

func (m *memo) markSubject(h v1.Hash, id fileID, subj v1.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Subjects == nil {
		m.Subjects = map[v1.Hash]subjectMemo{}
	}
	if old, ok := m.Subjects[h]; !ok || old.ID != id || old.Subject != subj {
		m.Subjects[h] = subjectMemo{id, subj}
		m.dirty = m.dirty || m.key != nil
	}
}

func (m *memo) image(h v1.Hash) (imageMemo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	im, ok := m.Images[h]
	return im, ok
}

func (m *memo) markImage(h v1.Hash, im imageMemo, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Images == nil {
		m.Images = map[v1.Hash]imageMemo{}
	}
	m.Images[h] = im
	m.dirty = m.dirty || m.key != nil
	m.markNowLocked(h, gen)
}

func (m *memo) markNow(h v1.Hash, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.markNowLocked(h, gen)
}

func (m *memo) markNowLocked(h v1.Hash, gen uint64) {
	if m.now == nil {
		m.now = map[v1.Hash]uint64{}
	}
	m.now[h] = gen + 1
}

// The memo's body: three counted sections (blobs, subjects, images) of
// fixed-size records, digests as their 32 raw bytes (sha256 only),
// integers little-endian.

func (m *memo) encode() []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(m.Blobs)))
	for h, id := range m.Blobs {
		b = appendID(appendHash(b, h), id)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(m.Subjects)))
	for h, r := range m.Subjects {
		b = appendHash(appendID(appendHash(b, h), r.ID), r.Subject)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(m.Images)))
	for h, im := range m.Images {
		b = appendHash(b, h)
		for _, l := range [][]v1.Hash{im.Blobs, im.Subjects, im.Referrers} {
			b = binary.LittleEndian.AppendUint64(b, uint64(len(l)))
			for _, x := range l {
				b = appendHash(b, x)
			}
		}
	}
	return b
}

func appendHash(b []byte, h v1.Hash) []byte {
	raw, err := hex.DecodeString(h.Hex)
	if h.Algorithm != "sha256" || err != nil || len(raw) != sha256.Size {
		raw = make([]byte, sha256.Size) // the zero hash (no subject)
	}
	return append(b, raw...)
}

func appendID(b []byte, id fileID) []byte {
	for _, v := range []uint64{id.Dev, id.Ino, uint64(id.Size), uint64(id.Mtime), uint64(id.Ctime)} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// memoReader reads the body; the first short read sets err.
type memoReader struct {
	b   []byte
	err error
}

var errShortMemo = errors.New("memo: truncated")

func (r *memoReader) next(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.err = errShortMemo
		return make([]byte, n)
	}
	x := r.b[:n]
	r.b = r.b[n:]
	return x
}

func (r *memoReader) u64() uint64 { return binary.LittleEndian.Uint64(r.next(8)) }

func (r *memoReader) hash() v1.Hash {
	raw := r.next(sha256.Size)
	if bytes.Equal(raw, make([]byte, sha256.Size)) {
		return v1.Hash{} // no subject
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(raw)}
}

func (r *memoReader) id() fileID {
	return fileID{Dev: r.u64(), Ino: r.u64(), Size: int64(r.u64()), Mtime: int64(r.u64()), Ctime: int64(r.u64())}
}

// count reads a section's length, refusing one longer than the bytes left
// could hold (each record takes at least min bytes).
func (r *memoReader) count(min int) int {
	n := r.u64()
	if r.err == nil && n > uint64(len(r.b)/min) {
		r.err = errShortMemo
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (m *memo) decode(body []byte) error {
	r := &memoReader{b: body}
	blobs := map[v1.Hash]fileID{}
	for n := r.count(72); n > 0 && r.err == nil; n-- {
		h := r.hash()
		blobs[h] = r.id()
	}
	subjects := map[v1.Hash]subjectMemo{}
	for n := r.count(104); n > 0 && r.err == nil; n-- {
		h := r.hash()
		id := r.id()
		subjects[h] = subjectMemo{id, r.hash()}
	}
	images := map[v1.Hash]imageMemo{}
	for n := r.count(56); n > 0 && r.err == nil; n-- {
		h := r.hash()
		var lists [3][]v1.Hash
		for i := range lists {
			for k := r.count(32); k > 0 && r.err == nil; k-- {
				lists[i] = append(lists[i], r.hash())
			}
		}
		images[h] = imageMemo{Blobs: lists[0], Subjects: lists[1], Referrers: lists[2]}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("memo: trailing bytes")
	}
	if r.err != nil {
		return r.err
	}
	m.Blobs, m.Subjects, m.Images = blobs, subjects, images
	return nil
}
