package build

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"sync"

	"chainguard.dev/apko/pkg/build/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/layercache"
)

// compressor names what turns a layer's tar into its compressed bytes:
// apko's layer compression (pgzip, default level, 1 MiB blocks) at the
// versions linked into this binary. It is part of every layer cache key.
var compressor = sync.OnceValue(func() string {
	v := map[string]string{"chainguard.dev/apko": "unknown", "github.com/klauspost/pgzip": "unknown", "github.com/klauspost/compress": "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if _, ok := v[d.Path]; ok {
				if d.Replace != nil {
					d = d.Replace
				}
				v[d.Path] = d.Version
			}
		}
	}
	return fmt.Sprintf("apko %s pgzip %s compress %s gzip default 1MiB", v["chainguard.dev/apko"], v["github.com/klauspost/pgzip"], v["github.com/klauspost/compress"])
})

// cachedLayers replaces apko's layers (uncompressed tar files, compressed
// when first asked for their digest) by layers of cache: a layer whose
// uncompressed content the cache holds, compressed by the same compressor,
// is not compressed again. It returns the layers and how many of them were
// compressed by this call.
func cachedLayers(ctx context.Context, cache *layercache.Cache, layers []v1.Layer) ([]v1.Layer, int, error) {
	out := make([]v1.Layer, len(layers))
	built := 0
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		diffID, err := l.DiffID()
		if err != nil {
			return nil, 0, fmt.Errorf("layer %d: %w", i, err)
		}
		mt, err := l.MediaType()
		if err != nil {
			return nil, 0, fmt.Errorf("layer %d: %w", i, err)
		}
		compressed := false
		cl, err := cache.Layer(layercache.Key(diffID, compressor()), diffID, mt, func() (io.ReadCloser, error) {
			compressed = true
			return l.Compressed()
		})
		if err != nil {
			return nil, 0, fmt.Errorf("layer %d (%s): %w", i, diffID, err)
		}
		if compressed {
			built++
		}
		out[i] = cl
	}
	return out, built, nil
}

// layerFS flattens the uncompressed tar files apko wrote for layers into
// the filesystem the post-build checks read: tar headers only, no
// decompression.
func layerFS(layers []v1.Layer) (inspect.FS, error) {
	var rs []io.Reader
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		rs = append(rs, rc)
	}
	return inspect.FromLayerTars(rs...)
}

// ownLayering reports whether hic lays out an image of layering l itself:
// apko's origin strategy, the only multi-layer one; apko builds the rest.
func ownLayering(l *types.Layering) bool {
	return l != nil && l.Strategy == "origin" && l.Budget > 0
}
