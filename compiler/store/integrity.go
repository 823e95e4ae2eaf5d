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
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobCheck memoises, per process, the blobs whose content was hashed and
// matched their names: a layer shared by many specs is hashed once.
type blobCheck struct {
	mu sync.Mutex
	ok map[v1.Hash]bool
}

func (c *blobCheck) known(h v1.Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[h]
}

func (c *blobCheck) mark(h v1.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok == nil {
		c.ok = map[v1.Hash]bool{}
	}
	c.ok[h] = true
}

func (c *blobCheck) forget(h v1.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ok, h)
}

// checkBlob hashes the stored blob h: nil when its content has digest h
// (and, when size is positive, that size).
func (s *Store) checkBlob(h v1.Hash, size int64) error {
	if s.checked.known(h) && s.hasBlob(h) {
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
	s.checked.mark(h)
	return nil
}

// goodBlob reports whether blob h is stored with the content its name says.
func (s *Store) goodBlob(h v1.Hash) bool { return s.checkBlob(h, 0) == nil }

// Verify hashes every blob of the stored image index h against its name and
// descriptor: the index, its manifests, their configs and layers, and the
// manifests, configs and layers of every referrer of the index and its
// platform manifests. It returns the problems found (each naming its blob),
// joined, or nil. A build calls it before trusting a cached image.
func (s *Store) Verify(h v1.Hash) error {
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
	for _, subj := range subjects {
		refs, err := s.Referrers(subj, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range refs {
			walk(r, "referrer manifest")
		}
	}
	return errors.Join(errs...)
}
