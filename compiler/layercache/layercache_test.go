package layercache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func openT(t *testing.T, dir string, max int64) *Cache {
	t.Helper()
	c, err := Open(dir, max)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writer returns a Write function that writes b as the compressed layer of
// a tar with diff ID diffID.
func writer(b []byte, diffID string) func(io.Writer) (v1.Hash, error) {
	return func(w io.Writer) (v1.Hash, error) {
		_, err := w.Write(b)
		return v1.Hash{Algorithm: "sha256", Hex: diffID}, err
	}
}

func digestOf(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func TestWriteStoresOnceByDiffID(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, 0)
	diffID := string(bytes.Repeat([]byte("a"), 64))
	b := []byte("compressed bytes")
	l, err := c.Write("test", types.OCILayer, writer(b, diffID))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := l.Digest(); d != digestOf(b) {
		t.Errorf("digest %s, want %s", d, digestOf(b))
	}
	if n, _ := l.Size(); n != int64(len(b)) {
		t.Errorf("size %d, want %d", n, len(b))
	}
	p := filepath.Join(dir, "blobs", "sha256", digestOf(b).Hex)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o444 {
		t.Errorf("blob mode %v, want read-only 0444", fi.Mode().Perm())
	}
	// The same diff ID written again (another input, the same content):
	// the cached layer, the new bytes dropped.
	l2, err := c.Write("test", types.OCILayer, writer([]byte("other bytes, same diff ID"), diffID))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := l2.Digest(); d != digestOf(b) {
		t.Errorf("second Write gave %s, want the cached %s", d, digestOf(b))
	}
	if st := c.Stats(); st.Stored != 1 || st.Reused != 1 {
		t.Errorf("stats %+v, want 1 stored, 1 reused", st)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("%d temporary files left", len(ents))
	}
	// Another process finds it under Key.
	got, ok, err := openT(t, dir, 0).Get(Key(v1.Hash{Algorithm: "sha256", Hex: diffID}, "test"))
	if err != nil || !ok {
		t.Fatalf("Get after Write = %v, %v", ok, err)
	}
	if d, _ := got.Digest(); d != digestOf(b) {
		t.Errorf("Get gave %s", d)
	}
}

// A use is recorded beside the blob, not in the blob's times: an OCI
// layout linking the blob remembers its change time.
func TestGetLeavesBlobTimes(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, 0)
	diffID := string(bytes.Repeat([]byte("b"), 64))
	l, err := c.Write("test", types.OCILayer, writer([]byte("layer"), diffID))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	p := filepath.Join(dir, "blobs", "sha256", d.Hex)
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := openT(t, dir, 0).Get(Key(v1.Hash{Algorithm: "sha256", Hex: diffID}, "test")); err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	bs, as := before.Sys().(*syscall.Stat_t), after.Sys().(*syscall.Stat_t)
	if bs.Ctim != as.Ctim || bs.Mtim != as.Mtim {
		t.Errorf("Get changed the blob's times: ctime %v -> %v, mtime %v -> %v", bs.Ctim, as.Ctim, bs.Mtim, as.Mtim)
	}
	if _, err := os.Stat(filepath.Join(dir, "used", d.Hex)); err != nil {
		t.Errorf("the use was not recorded: %v", err)
	}
}

// Trimming goes by the last use recorded in used/: of two blobs written
// long ago, the one used recently stays.
func TestTrimByLastUse(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, 0)
	var digests []v1.Hash
	for i, s := range []string{"old and unused", "old but used now"} {
		l, err := c.Write("test", types.OCILayer, writer([]byte(s), string(bytes.Repeat([]byte{'c' + byte(i)}, 64))))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := l.Digest()
		digests = append(digests, d)
		long := time.Now().Add(-2 * grace)
		if err := os.Chtimes(filepath.Join(dir, "blobs", "sha256", d.Hex), long, long); err != nil {
			t.Fatal(err)
		}
	}
	c.touch(digests[1])
	openT(t, dir, 20) // room for one
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", digests[0].Hex)); err == nil {
		t.Error("the blob unused for longest was kept")
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", digests[1].Hex)); err != nil {
		t.Errorf("the recently used blob was trimmed: %v", err)
	}
}

// rewriteInPlace writes b over the blob file p, keeping its size and
// restoring its mode and modification time, as a writer hiding a change
// would; it writes again until the change time shows the change (on a
// kernel with coarse timestamps, a write in the same tick as the last stat
// does not).
func rewriteInPlace(t *testing.T, p string, b []byte) {
	t.Helper()
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, blobMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, before.ModTime(), before.ModTime()); err != nil {
			t.Fatal(err)
		}
		after, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if after.Sys().(*syscall.Stat_t).Ctim != before.Sys().(*syscall.Stat_t).Ctim {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the change time never changed")
		}
	}
}

type linkHasher interface {
	LinkHashed(h v1.Hash, dst string) (bool, error)
}

// A blob this process wrote links without a second hash, and the link
// (which changes the file's change time) does not make Get hash it again.
func TestLinkHashedFreshBlob(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, 0)
	hashes := 0
	c.onHash = func(v1.Hash) { hashes++ }
	diffID := v1.Hash{Algorithm: "sha256", Hex: string(bytes.Repeat([]byte("c"), 64))}
	b := []byte("a fresh layer")
	l, err := c.Write("test", types.OCILayer, writer(b, diffID.Hex))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "link")
	// Another filesystem would refuse the link; t.TempDir is one for both.
	if ok, err := l.(linkHasher).LinkHashed(digestOf([]byte("other")), dst); ok || err != nil {
		t.Errorf("LinkHashed of another digest = %v, %v; want not linked", ok, err)
	}
	ok, err := l.(linkHasher).LinkHashed(digestOf(b), dst)
	if err != nil || !ok {
		t.Fatalf("LinkHashed = %v, %v; want linked", ok, err)
	}
	src, _ := os.Stat(filepath.Join(dir, "blobs", "sha256", digestOf(b).Hex))
	if got, err := os.Stat(dst); err != nil || !os.SameFile(src, got) {
		t.Fatalf("the link is not the blob: %v", err)
	}
	if _, ok, err := c.Get(Key(diffID, "test")); err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if hashes != 0 {
		t.Errorf("%d hashes of a blob this process wrote and linked; want 0", hashes)
	}
}

// A blob changed after it was hashed, in place or by a rename over it, is
// never linked unhashed, and Get hashes it again and drops it.
func TestLinkHashedRefusesChangedBlob(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, p string, b []byte)
	}{
		{"rewritten in place", rewriteInPlace},
		{"replaced by rename", func(t *testing.T, p string, b []byte) {
			tmp := p + ".new"
			if err := os.WriteFile(tmp, b, blobMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, p); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := openT(t, dir, 0)
			hashes := 0
			c.onHash = func(v1.Hash) { hashes++ }
			diffID := v1.Hash{Algorithm: "sha256", Hex: string(bytes.Repeat([]byte("d"), 64))}
			b := []byte("the layer as written")
			l, err := c.Write("test", types.OCILayer, writer(b, diffID.Hex))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "blobs", "sha256", digestOf(b).Hex)
			tc.change(t, p, []byte("the layer as changed"))
			dst := filepath.Join(t.TempDir(), "link")
			if ok, err := l.(linkHasher).LinkHashed(digestOf(b), dst); ok || err != nil {
				t.Errorf("LinkHashed of a changed blob = %v, %v; want not linked", ok, err)
			}
			if _, err := os.Lstat(dst); err == nil {
				t.Error("a link was left for a changed blob")
			}
			if _, ok, err := c.Get(Key(diffID, "test")); err != nil || ok {
				t.Errorf("Get of a changed blob = %v, %v; want absent", ok, err)
			}
			if hashes != 1 {
				t.Errorf("Get hashed the changed blob %d times; want 1", hashes)
			}
		})
	}
}
