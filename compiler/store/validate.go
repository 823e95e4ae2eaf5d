package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Validate checks the layout at dir without locking it: oci-layout and
// index.json parse, every blob's sha256 matches its file name, and every
// index.json entry resolves, with all it references (child manifests,
// configs, layers, subjects) present at the declared size. It returns every
// problem found, joined.
func Validate(dir string) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if b, err := os.ReadFile(filepath.Join(dir, layoutName)); err != nil {
		fail("oci-layout: %w", err)
	} else {
		var l struct {
			ImageLayoutVersion string `json:"imageLayoutVersion"`
		}
		if err := json.Unmarshal(b, &l); err != nil || l.ImageLayoutVersion == "" {
			fail("oci-layout: not an image layout file")
		}
	}

	sizes := map[string]int64{} // "sha256:hex" -> size, for verified blobs
	algDir := filepath.Join(dir, "blobs", "sha256")
	ents, err := os.ReadDir(algDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fail("blobs: %w", err)
	}
	for _, e := range ents {
		name := filepath.Join(algDir, e.Name())
		if !e.Type().IsRegular() {
			fail("blob %s: not a regular file", name)
			continue
		}
		got, n, err := hashFile(name)
		if err != nil {
			fail("blob %s: %w", name, err)
			continue
		}
		if got != e.Name() {
			fail("blob sha256:%s: content has digest sha256:%s", e.Name(), got)
			continue
		}
		sizes["sha256:"+got] = n
	}

	b, err := os.ReadFile(filepath.Join(dir, indexName))
	if errors.Is(err, os.ErrNotExist) {
		return errors.Join(errs...)
	}
	if err != nil {
		fail("index.json: %w", err)
		return errors.Join(errs...)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		fail("index.json: %w", err)
		return errors.Join(errs...)
	}
	readFile := func(h v1.Hash) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(algDir, h.Hex))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h, err)
		}
		return b, nil
	}
	seen := map[string]bool{}
	var walk func(d v1.Descriptor, from string)
	walk = func(d v1.Descriptor, from string) {
		key := d.Digest.String()
		size, ok := sizes[key]
		if !ok {
			fail("%s: %s %s is missing", from, d.MediaType, key)
			return
		}
		if size != d.Size {
			fail("%s: %s has size %d, descriptor says %d", from, key, size, d.Size)
			return
		}
		if seen[key] {
			return
		}
		seen[key] = true
		switch d.MediaType {
		case types.OCIImageIndex, types.DockerManifestList:
			var child v1.IndexManifest
			if err := decodeManifest(d, "index", &child, readFile); err != nil {
				fail("%w", err)
				return
			}
			for _, c := range child.Manifests {
				walk(c, "index "+key)
			}
		case types.OCIManifestSchema1, types.DockerManifestSchema2:
			var m v1.Manifest
			if err := decodeManifest(d, "manifest", &m, readFile); err != nil {
				fail("%w", err)
				return
			}
			walk(m.Config, "manifest "+key+" config")
			for _, l := range m.Layers {
				walk(l, "manifest "+key+" layer")
			}
			if m.Subject != nil {
				walk(*m.Subject, "manifest "+key+" subject")
			}
		}
	}
	for _, d := range im.Manifests {
		from := "index.json entry"
		if r := d.Annotations[AnnotationRefName]; r != "" {
			from += " " + r
		}
		walk(d, from)
	}
	return errors.Join(errs...)
}

// decodeManifest reads the blob of d with read and decodes it into v (a
// v1.IndexManifest or v1.Manifest); what ("index", "manifest") names it when
// it does not parse. Read errors are returned as read gives them.
func decodeManifest(d v1.Descriptor, what string, v any, read func(v1.Hash) ([]byte, error)) error {
	b, err := read(d.Digest)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %w", what, d.Digest, err)
	}
	return nil
}

func hashFile(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
