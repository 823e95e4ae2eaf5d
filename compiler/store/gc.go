package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// GC removes the blobs no index.json entry reaches (left behind when specs
// are rebuilt or pruned) and returns how many it removed and their total
// size; with dryRun it removes nothing and returns what it would remove.
// Puts wait while it runs.
func (s *Store) GC(ctx context.Context, dryRun bool) (removed int, freed int64, err error) {
	return s.gc(ctx, nil, dryRun)
}

// GCAfterPrune is GC as it runs after Prune(ctx, keep, false): the
// index.json entries that Prune removes (of the specs keep returns false
// for) reach nothing. With dryRun it changes nothing and returns what
// Prune and then GC would remove, so a dry run of both reports the blobs
// the real run frees, not only those unreachable already. After a real
// Prune it is GC.
func (s *Store) GCAfterPrune(ctx context.Context, keep func(specRef string) bool, dryRun bool) (removed int, freed int64, err error) {
	return s.gc(ctx, keep, dryRun)
}

// gc is GC with the entries pruned(d, keep) left out of the roots (none
// without keep).
func (s *Store) gc(ctx context.Context, keep func(specRef string) bool, dryRun bool) (removed int, freed int64, err error) {
	if err := s.usable(ctx); err != nil {
		return 0, 0, fmt.Errorf("store: gc: %w", err)
	}
	if !dryRun {
		if err := s.writable(); err != nil {
			return 0, 0, fmt.Errorf("store: gc: %w", err)
		}
	}
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.mu.Lock()
	var roots []v1.Descriptor
	for _, d := range s.manifest.Manifests {
		if keep == nil || !pruned(d, keep) {
			roots = append(roots, d)
		}
	}
	s.mu.Unlock()

	live := map[string]bool{}
	var mark func(d v1.Descriptor) error
	mark = func(d v1.Descriptor) error {
		if live[d.Digest.Hex] {
			return nil
		}
		live[d.Digest.Hex] = true
		switch d.MediaType {
		case types.OCIImageIndex, types.DockerManifestList:
			var im v1.IndexManifest
			if err := decodeManifest(d, "index", &im, s.Blob); err != nil {
				return err
			}
			for _, c := range im.Manifests {
				if err := mark(c); err != nil {
					return err
				}
			}
		case types.OCIManifestSchema1, types.DockerManifestSchema2:
			var m v1.Manifest
			if err := decodeManifest(d, "manifest", &m, s.Blob); err != nil {
				return err
			}
			live[m.Config.Digest.Hex] = true
			for _, l := range m.Layers {
				live[l.Digest.Hex] = true
			}
		}
		return nil
	}
	for _, d := range roots {
		if err := mark(d); err != nil {
			// Never delete anything when the graph cannot be read whole.
			return 0, 0, fmt.Errorf("store: gc: %w", err)
		}
	}
	dir := filepath.Join(s.dir, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) && s.readOnly {
		return 0, 0, nil // a layout without blobs yet (Open creates the directory)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: gc: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return removed, freed, fmt.Errorf("store: gc: %w", err)
		}
		if live[e.Name()] {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if !dryRun {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return removed, freed, fmt.Errorf("store: gc: %w", err)
			}
			s.memo.forget(v1.Hash{Algorithm: "sha256", Hex: e.Name()})
		}
		removed++
		freed += fi.Size()
	}
	return removed, freed, nil
}
