package pipeline

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/memofile"
)

// InputMemo remembers the input digests computed by earlier builds, so an
// unchanged spec's digest is not computed again: InputDigest's canonical
// JSON of the spec and its lock is most of the time a cached spec costs.
//
// Each digest is kept under a hash of exactly what InputDigest reads — the
// spec's JSON, its lock's bytes, the versions and the advisories' digest — so an entry can only
// give the digest InputDigest would. The file is authenticated with an
// HMAC-SHA256 under the key of the store's memo of checks (store.MemoKey,
// outside the output directory): whoever can write the cache but not that
// key cannot make one spec's digest name another spec's image. A file that
// is missing or fails the check is ignored; deleting it only costs the next
// build the canonical JSON of every spec.
type InputMemo struct {
	path string
	key  []byte

	mu    sync.Mutex
	old   map[[sha256.Size]byte][sha256.Size]byte // read from the file
	now   map[[sha256.Size]byte][sha256.Size]byte // used or computed in this process
	dirty bool
}

const (
	inputMemoFormat = "hic input digests v1\n"
	// inputMemoMax bounds the file: older entries are dropped beyond it.
	inputMemoMax = 64 << 10
)

// OpenInputMemo reads the memo at path (if it is there and authentic
// under key). A nil key gives a memo that remembers nothing.
func OpenInputMemo(path string, key []byte) *InputMemo {
	m := &InputMemo{path: path, key: slices.Clone(key), old: map[[sha256.Size]byte][sha256.Size]byte{}, now: map[[sha256.Size]byte][sha256.Size]byte{}}
	body, ok := memofile.Read(path, inputMemoFormat, key)
	if !ok || len(body)%(2*sha256.Size) != 0 {
		return m
	}
	for ; len(body) > 0; body = body[2*sha256.Size:] {
		m.old[[sha256.Size]byte(body[:sha256.Size])] = [sha256.Size]byte(body[sha256.Size : 2*sha256.Size])
	}
	return m
}

// Digest returns InputDigest(img, lock, v, advisories), from the memo when
// an earlier build computed it from the same spec, lock, versions and
// advisories. A nil memo computes it.
func (m *InputMemo) Digest(img compile.Image, lock Lock, v Versions, advisories string) (string, error) {
	if m == nil {
		return InputDigest(img, lock, v, advisories)
	}
	k, err := inputKey(img, lock, v, advisories)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	d, ok := m.now[k]
	if !ok {
		d, ok = m.old[k]
		if ok {
			m.now[k] = d
		}
	}
	m.mu.Unlock()
	if ok {
		return "sha256:" + hex.EncodeToString(d[:]), nil
	}
	s, err := InputDigest(img, lock, v, advisories)
	if err != nil {
		return "", err
	}
	raw, err := hex.DecodeString(s[len("sha256:"):])
	if err != nil || len(raw) != sha256.Size {
		return s, nil // not remembered
	}
	m.mu.Lock()
	m.now[k] = [sha256.Size]byte(raw)
	m.dirty = true
	m.mu.Unlock()
	return s, nil
}

// inputKey hashes what InputDigest reads, each part length-prefixed.
func inputKey(img compile.Image, lock Lock, v Versions, advisories string) ([sha256.Size]byte, error) {
	ib, err := json.Marshal(img)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	lb, err := lock.Marshal()
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	vb, err := json.Marshal(v)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	h := sha256.New()
	h.Write([]byte(inputMemoFormat))
	for _, part := range [][]byte{ib, lb, vb, []byte(advisories)} {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(part))))
		h.Write(part)
	}
	return [sha256.Size]byte(h.Sum(nil)), nil
}

// Save writes the memo back when this process computed a digest it did not
// hold: the entries used or computed now, then earlier ones up to
// inputMemoMax. Failing to write only costs the next build its speed.
func (m *InputMemo) Save() error {
	if m == nil || m.key == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirty {
		return nil
	}
	body := make([]byte, 0, 2*sha256.Size*min(len(m.now)+len(m.old), inputMemoMax))
	n := 0
	add := func(all map[[sha256.Size]byte][sha256.Size]byte, skip map[[sha256.Size]byte][sha256.Size]byte) {
		for k, d := range all {
			if _, dup := skip[k]; dup || n >= inputMemoMax {
				continue
			}
			body = append(append(body, k[:]...), d[:]...)
			n++
		}
	}
	add(m.now, nil)
	add(m.old, m.now)
	if err := memofile.Write(m.path, inputMemoFormat, m.key, body); err != nil {
		return err
	}
	m.dirty = false
	return nil
}
