package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// putVerified stores a random image with one referrer in a layout that
// remembers its checks under key, verifies it and closes the store.
func putVerified(t *testing.T, dir string, key []byte) (index v1.Hash, layer v1.Hash) {
	t.Helper()
	ctx := context.Background()
	s := openT(t, dir)
	s.RememberChecks(key)
	idx := randomIndex(t)
	h, _ := idx.Digest()
	raw, _ := idx.RawManifest()
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw))}
	if _, err := s.Put(ctx, Entry{SpecRef: "x:1", Refs: []string{"x:1"}, InputDigest: "sha256:in"}, idx,
		mustArtifact(t, Artifact{ArtifactType: "application/vnd.dev.hic.findings+json", Subject: subject, MediaType: "application/json", Data: []byte(`[]`)})); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(h); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	l, _ := ls[0].Digest()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return h, l
}

func reopen(t *testing.T, dir string, key []byte) *Store {
	t.Helper()
	s := openT(t, dir)
	s.RememberChecks(key)
	return s
}

func TestMemoRemembersVerifiedImages(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, memoKeyLen)
	h, _ := putVerified(t, dir, key)

	s := reopen(t, dir, key)
	if _, ok := s.memo.image(h); !ok {
		t.Fatal("the memo does not hold the image verified by the last process")
	}
	if !s.verifiedBefore(h) {
		t.Error("an unchanged image is not trusted from the memo")
	}
	if _, ok := s.Has("sha256:in"); !ok {
		t.Error("Has does not find the unchanged image")
	}
	s.Close()

	// Another key (a memo forged or copied from elsewhere): nothing is
	// remembered, so everything is hashed again.
	s = reopen(t, dir, bytes.Repeat([]byte{2}, memoKeyLen))
	if len(s.memo.Images) != 0 || len(s.memo.Blobs) != 0 {
		t.Errorf("a memo under another key was trusted: %d images, %d blobs", len(s.memo.Images), len(s.memo.Blobs))
	}
	if err := s.Verify(h); err != nil {
		t.Errorf("Verify without the memo: %v", err)
	}
}

func TestMemoNoticesBlobRewrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, memoKeyLen)
	h, layer := putVerified(t, dir, key)

	// One byte flipped in place, size and modification time kept: only
	// the change time tells.
	p := filepath.Join(dir, "blobs", "sha256", layer.Hex)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}

	s := reopen(t, dir, key)
	err = s.Verify(h)
	if err == nil || !strings.Contains(err.Error(), "content has digest") || !strings.Contains(err.Error(), layer.Hex) {
		t.Fatalf("Verify of the image with a layer rewritten in place = %v, want the layer's digest mismatch", err)
	}
}

func TestMemoNoticesNewReferrer(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, memoKeyLen)
	h, _ := putVerified(t, dir, key)
	s := reopen(t, dir, key)
	before := len(mustReferrers(t, s, h))
	// A second referrer for the image, listed in index.json by a later Put
	// of the same spec's image: the memo's referrer list no longer matches.
	raw, _ := s.Blob(h)
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw))}
	idx, err := s.ImageIndex(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), Entry{SpecRef: "x:1", Refs: []string{"x:1"}, InputDigest: "sha256:in"}, idx,
		mustArtifact(t, Artifact{ArtifactType: "application/vnd.dev.hic.findings+json", Subject: subject, MediaType: "application/json", Data: []byte(`[]`)}),
		mustArtifact(t, Artifact{ArtifactType: "application/spdx+json", Subject: subject, MediaType: "application/spdx+json", Data: []byte(`{}`)})); err != nil {
		t.Fatal(err)
	}
	if got := len(mustReferrers(t, s, h)); got != before+1 {
		t.Fatalf("%d referrers, want %d", got, before+1)
	}
	s.memo.mu.Lock()
	s.memo.now = nil
	s.memo.mu.Unlock()
	if s.verifiedBefore(h) {
		t.Error("the memo vouches for an image whose referrers changed")
	}
}

func mustReferrers(t *testing.T, s *Store, h v1.Hash) []v1.Descriptor {
	t.Helper()
	ds, err := s.Referrers(h, "")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestMemoEncodingRoundTrips(t *testing.T) {
	h := func(c string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(c, 64)} }
	m := memo{
		Blobs:    map[v1.Hash]fileID{h("a"): {1, 2, 3, 4, 5}},
		Subjects: map[v1.Hash]subjectMemo{h("b"): {fileID{6, 7, 8, 9, 10}, h("a")}, h("c"): {fileID{1, 1, 1, 1, 1}, v1.Hash{}}},
		Images:   map[v1.Hash]imageMemo{h("a"): {Blobs: []v1.Hash{h("a"), h("b")}, Subjects: []v1.Hash{h("a")}, Referrers: []v1.Hash{h("b")}}},
	}
	body := m.encode()
	var got memo
	if err := got.decode(body); err != nil {
		t.Fatal(err)
	}
	if got.Blobs[h("a")] != m.Blobs[h("a")] || got.Subjects[h("b")] != m.Subjects[h("b")] || got.Subjects[h("c")] != m.Subjects[h("c")] {
		t.Errorf("decoded %+v, want %+v", got.Subjects, m.Subjects)
	}
	if im := got.Images[h("a")]; len(im.Blobs) != 2 || im.Referrers[0] != h("b") {
		t.Errorf("decoded image %+v", im)
	}
	for n := 0; n < len(body); n += 7 {
		var short memo
		if err := short.decode(body[:n]); err == nil {
			t.Errorf("a memo cut at %d bytes decodes", n)
		}
	}
}

// A no-op build asks of every cached image Has, Verify and Referrers, and
// its platform manifests' referrers through the index of all referrers by
// subject: each blob's identity is still looked up once per process (the
// index's lookups of the referrers of images not checked yet did not count
// them as seen, so each image's check stat'ed them again).
func TestMemoStatsEachBlobOnce(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, memoKeyLen)
	ctx := context.Background()
	s := openT(t, dir)
	s.RememberChecks(key)
	type stored struct {
		index, platform v1.Hash
		input           string
	}
	var imgs []stored
	for i := range 4 {
		idx := randomIndex(t)
		h, _ := idx.Digest()
		raw, _ := idx.RawManifest()
		im, _ := idx.IndexManifest()
		subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw))}
		platform := im.Manifests[0]
		ref, input := fmt.Sprintf("x:%d", i), fmt.Sprintf("sha256:in%d", i)
		if _, err := s.Put(ctx, Entry{SpecRef: ref, Refs: []string{ref}, InputDigest: input}, idx,
			mustArtifact(t, Artifact{ArtifactType: "application/vnd.dev.hic.findings+json", Subject: subject, MediaType: "application/json", Data: []byte(`[]`)}),
			mustArtifact(t, Artifact{ArtifactType: "application/spdx+json", Subject: platform, MediaType: "application/spdx+json", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})); err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(h); err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, stored{h, platform.Digest, input})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir)
	var mu sync.Mutex
	stats := map[v1.Hash]int{}
	s.onBlobStat = func(h v1.Hash) {
		mu.Lock()
		defer mu.Unlock()
		stats[h]++
	}
	s.RememberChecks(key)
	for _, img := range imgs {
		if h, ok := s.Has(img.input); !ok || h != img.index {
			t.Errorf("Has(%s) = %s, %v; want %s", img.input, h, ok, img.index)
		}
		if err := s.Verify(img.index); err != nil {
			t.Error(err)
		}
		if ds, err := s.Referrers(img.platform, ""); err != nil || len(ds) != 1 {
			t.Errorf("Referrers(%s) = %d, %v; want 1", img.platform, len(ds), err)
		}
	}
	if len(stats) == 0 {
		t.Fatal("no blob's identity was looked up")
	}
	for h, n := range stats {
		if n > 1 {
			t.Errorf("blob %s: identity looked up %d times, want once", h, n)
		}
	}
}

// The memo read ahead of the store's opening (PrefetchChecks) is the one
// RememberChecks would read: trusted under its key only.
func TestPrefetchedChecks(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, memoKeyLen)
	other := bytes.Repeat([]byte{2}, memoKeyLen)
	h, _ := putVerified(t, dir, key)

	for _, c := range []struct {
		name      string
		pre       *ChecksPrefetch
		key       []byte
		remembers bool
	}{
		{"prefetched under the key", PrefetchChecks(dir, key), key, true},
		{"prefetched under another key than the store's", PrefetchChecks(dir, other), key, true},
		{"prefetched from another layout", PrefetchChecks(t.TempDir(), key), key, true},
		{"a memo under another key", PrefetchChecks(dir, other), other, false},
	} {
		s := openT(t, dir)
		s.RememberPrefetchedChecks(c.key, c.pre)
		if got := s.verifiedBefore(h); got != c.remembers {
			t.Errorf("%s: verified before = %v, want %v", c.name, got, c.remembers)
		}
		s.Close()
	}
}
