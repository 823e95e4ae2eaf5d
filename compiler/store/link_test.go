package store

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/layercache"
)

// pathBlob is a blobFile of a plain file.
type pathBlob string

func (p pathBlob) BlobFile() string { return string(p) }

// readOnlyBlob writes b as a file of mode mode outside the layout, as a
// layer cache keeps its blobs, and returns its path and digest.
func readOnlyBlob(t *testing.T, b []byte, mode os.FileMode) (string, v1.Hash) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func TestLinkBlobLinksReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	src, h := readOnlyBlob(t, []byte("a layer's compressed bytes"), 0o444)
	linked, err := s.linkBlob(h, pathBlob(src))
	if err != nil || !linked {
		t.Fatalf("linkBlob = %v, %v; want linked", linked, err)
	}
	a, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Stat(s.blobPath(h))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Error("the layout's blob is a copy, not a link of the source")
	}
	if !s.goodBlob(h) {
		t.Error("the linked blob is not good")
	}
}

func TestLinkBlobRefusesWritableOrOtherFile(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	// A file its owner may write in place is copied, never linked: a
	// write through the other name would change the layout's blob.
	src, h := readOnlyBlob(t, []byte("writable"), 0o644)
	if linked, err := s.linkBlob(h, pathBlob(src)); err != nil || linked {
		t.Errorf("linkBlob of a writable file = %v, %v; want not linked, no error", linked, err)
	}
	if s.hasBlob(h) {
		t.Error("a blob was stored for a file that was not linked")
	}
	// A file whose bytes are not its digest's is an error and stores
	// nothing.
	src, _ = readOnlyBlob(t, []byte("other bytes"), 0o444)
	linked, err := s.linkBlob(h, pathBlob(src))
	if err == nil || linked || !strings.Contains(err.Error(), "content has digest") {
		t.Errorf("linkBlob of a file with other bytes = %v, %v; want a digest error", linked, err)
	}
	if s.hasBlob(h) {
		t.Error("a blob with the wrong bytes was stored")
	}
	ents, err := os.ReadDir(filepath.Join(dir, tmpDirName))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("temporary files left behind: %d", len(ents))
	}
}

// Two links of one file renamed onto the same blob (two builds storing the
// same layer at once): rename does nothing for the second, which must not
// be left in the temporary directory.
func TestLinkBlobTwiceLeavesNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	src, h := readOnlyBlob(t, []byte("a layer two specs share"), 0o444)
	for i := 0; i < 2; i++ {
		s.memo.forget(h) // as if the other writer's check ran before the first link
		if linked, err := s.linkBlob(h, pathBlob(src)); err != nil || !linked {
			t.Fatalf("linkBlob %d = %v, %v", i, linked, err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, tmpDirName))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("temporary files left behind: %d", len(ents))
	}
}

// cachedLayer writes b into a new layer cache as a compressed layer and
// returns the cached layer and its blob's path.
func cachedLayer(t *testing.T, b []byte) (v1.Layer, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := layercache.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Write("test", types.OCILayer, func(w io.Writer) (v1.Hash, error) {
		_, err := w.Write(b)
		return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("e", 64)}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := l.Digest()
	return l, filepath.Join(dir, "blobs", "sha256", h.Hex)
}

// A layer cache's blob unchanged since the cache hashed it is linked with
// no second hash; one changed since is hashed and refused.
func TestLinkBlobOfLayerCache(t *testing.T) {
	b := []byte("a layer the cache just compressed")
	l, src := cachedLayer(t, b)
	h, _ := l.Digest()
	s := openT(t, t.TempDir())
	hashes := 0
	s.onBlobHash = func(v1.Hash) { hashes++ }
	linked, err := s.linkBlob(h, l.(blobFile))
	if err != nil || !linked {
		t.Fatalf("linkBlob = %v, %v; want linked", linked, err)
	}
	if hashes != 0 {
		t.Errorf("the store hashed an unchanged cache blob %d times; want 0", hashes)
	}
	a, _ := os.Stat(src)
	if got, err := os.Stat(s.blobPath(h)); err != nil || !os.SameFile(a, got) || !s.goodBlob(h) {
		t.Errorf("the layout's blob is not a good link of the cache's: %v", err)
	}

	// Replaced by another file under the blob's name after the cache
	// hashed it: the store hashes what it links, and refuses it.
	l, src = cachedLayer(t, b)
	tmp := src + ".new"
	if err := os.WriteFile(tmp, []byte("a layer an attacker wrote"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, src); err != nil {
		t.Fatal(err)
	}
	s = openT(t, t.TempDir())
	hashes = 0
	s.onBlobHash = func(v1.Hash) { hashes++ }
	linked, err = s.linkBlob(h, l.(blobFile))
	if err == nil || linked || !strings.Contains(err.Error(), "content has digest") {
		t.Errorf("linkBlob of a replaced cache blob = %v, %v; want a digest error", linked, err)
	}
	if hashes != 1 || s.hasBlob(h) {
		t.Errorf("replaced cache blob: %d hashes, stored %v; want 1 hash, nothing stored", hashes, s.hasBlob(h))
	}
}
