package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// checkBlob hashes the stored blob h: nil when its content has digest h
// (and, when size is positive, that size). A blob whose file has the
// identity it had when it was last hashed good (see memo) is not read.
func (s *Store) checkBlob(h v1.Hash, size int64) error {
	if id, ok := s.blobID(h); ok && s.memo.knownGood(h, id) && (size <= 0 || id.Size == size) {
		return nil
	}
	f, err := os.Open(s.blobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blob %s is missing", h)
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	sum := sha256.New()
	n, err := io.Copy(sum, f)
	if err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); h.Algorithm != "sha256" || got != h.Hex {
		return fmt.Errorf("blob %s: content has digest sha256:%s", h, got)
	}
	if size > 0 && n != size {
		return fmt.Errorf("blob %s: %d bytes, its descriptor says %d", h, n, size)
	}
	// The identity remembered is the one the file had before and after
	// the read: a write while it was read gives it another.
	if after, err := f.Stat(); err == nil {
		if id, ok := idOf(before); ok {
			if id2, ok := idOf(after); ok && id == id2 {
				s.memo.markGood(h, id)
			}
		}
	}
	return nil
}

// goodBlob reports whether blob h is stored with the content its name says.
func (s *Store) goodBlob(h v1.Hash) bool { return s.checkBlob(h, 0) == nil }

// Verify hashes every blob of the stored image index h against its name and
// descriptor: the index, its manifests, their configs and layers, and the
// manifests, configs and layers of every referrer of the index and its
// platform manifests. It returns the problems found (each naming its blob),
// joined, or nil. A build calls it before trusting a cached image.
//
// An image Verify passed before (see memo) passes again without a read when
// index.json lists the same referrers for it and every blob of its walk has
// the file identity it had when it was hashed.
func (s *Store) Verify(h v1.Hash) error {
	if s.verifiedBefore(h) {
		return nil
	}
	gen := s.generation()
	var errs []error
	subjects := []v1.Hash{h}
	seen := map[v1.Hash]bool{}
	var walk func(d v1.Descriptor, what string)
	walk = func(d v1.Descriptor, what string) {
		if seen[d.Digest] {
			return
		}
		seen[d.Digest] = true
		if err := s.checkBlob(d.Digest, d.Size); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return
		}
		switch {
		case d.MediaType.IsIndex():
			b, err := s.Blob(d.Digest)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
				return
			}
			im, err := v1.ParseIndexManifest(bytes.NewReader(b))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", what, d.Digest, err))
				return
			}
			for _, c := range im.Manifests {
				if d.Digest == h && c.Platform != nil {
					subjects = append(subjects, c.Digest)
				}
				walk(c, "manifest")
			}
		case d.MediaType.IsImage() || d.MediaType == "application/vnd.oci.image.manifest.v1+json":
			b, err := s.Blob(d.Digest)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
				return
			}
			var m v1.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", what, d.Digest, err))
				return
			}
			walk(m.Config, "config of "+d.Digest.String())
			for _, l := range m.Layers {
				walk(l, "layer of "+d.Digest.String())
			}
		}
	}
	size := int64(0)
	if b, err := os.Stat(s.blobPath(h)); err == nil {
		size = b.Size()
	}
	walk(v1.Descriptor{MediaType: "application/vnd.oci.image.index.v1+json", Digest: h, Size: size}, "index")
	var referrers []v1.Hash
	for _, subj := range subjects {
		refs, err := s.Referrers(subj, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range refs {
			referrers = append(referrers, r.Digest)
			walk(r, "referrer manifest")
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	blobs := make([]v1.Hash, 0, len(seen))
	for b := range seen {
		blobs = append(blobs, b)
	}
	sortHashes(blobs)
	sortHashes(referrers)
	s.memo.markImage(h, imageMemo{Blobs: blobs, Subjects: subjects, Referrers: referrers}, gen)
	return nil
}

// verifiedBefore reports whether the memo holds image h as verified with
// the referrers index.json lists now, and every blob of its walk unchanged.
func (s *Store) verifiedBefore(h v1.Hash) bool {
	gen := s.generation()
	if s.memo.verifiedNow(h, gen) {
		return true
	}
	im, ok := s.memo.image(h)
	if !ok {
		return false
	}
	// The blobs first: a referrer found unchanged needs no second look
	// when Referrers asks for its subject.
	todo := s.memo.unseen(im.Blobs)
	ids := make([]fileID, len(todo))
	for i, b := range todo {
		id, ok := s.blobID(b)
		if !ok {
			return false
		}
		ids[i] = id
	}
	if !s.memo.allKnownGood(todo, ids) {
		return false
	}
	var referrers []v1.Hash
	for _, subj := range im.Subjects {
		refs, err := s.Referrers(subj, "")
		if err != nil {
			return false
		}
		for _, r := range refs {
			referrers = append(referrers, r.Digest)
		}
	}
	sortHashes(referrers)
	if !slices.Equal(referrers, im.Referrers) {
		return false
	}
	s.memo.markNow(h, gen)
	return true
}

// generation is index.json's generation: it changes with every Put.
func (s *Store) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

func sortHashes(hs []v1.Hash) {
	// The order of String() for one algorithm, without building the strings.
	slices.SortFunc(hs, func(a, b v1.Hash) int {
		if c := strings.Compare(a.Algorithm, b.Algorithm); c != 0 {
			return c
		}
		return strings.Compare(a.Hex, b.Hex)
	})
}
