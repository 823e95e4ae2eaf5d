package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/resolve"
)

// LockCache wraps a Builder and keeps the locks it resolves on disk, keyed by
// everything a lock depends on: the spec ref, its packages, repositories,
// keyrings and architectures, and the exact bytes of every mirrored index and
// key. An unchanged spec over unchanged mirrors is then not resolved again,
// which is most of the time of an incremental catalog build. Specs with a
// repository that has no mirror are always resolved: their index may change
// under the same URL.
type LockCache struct {
	Builder
	// Dir holds the cached locks, e.g. out/cache/locks.
	Dir string
	// Mirrors are the mirrors the wrapped Builder resolves from.
	Mirrors []resolve.Mirror

	mu      sync.Mutex
	digests map[string]string // mirror dir -> digest of its indexes and keys
}

var _ Builder = (*LockCache)(nil)

// lockCacheFormat feeds every cache key: a cached lock's bytes are the
// spec's lock bytes as this format wrote them (Resolve returns them as
// they are, and they feed the input digest), so a hic that marshals locks
// differently must not read them. Locks cached without it are not read.
const lockCacheFormat = "hic lock cache v2"

// Resolve returns the cached lock of img, or resolves and caches it.
func (c *LockCache) Resolve(ctx context.Context, img compile.Image) (Lock, error) {
	key, ok, err := c.key(img)
	if err != nil {
		return nil, fmt.Errorf("%s: lock cache: %w", img.Ref, err)
	}
	path := filepath.Join(c.Dir, key+".json")
	if ok {
		if b, err := os.ReadFile(path); err == nil {
			if l, err := resolve.Parse(b); err == nil && l.Ref == img.Ref {
				return marshaledLock{l, b}, nil
			}
		}
	}
	lock, err := c.Builder.Resolve(ctx, img)
	if err != nil || !ok {
		return lock, err
	}
	b, err := lock.Marshal()
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(path, b, 0o644); err != nil {
		return nil, fmt.Errorf("%s: lock cache: %w", img.Ref, err)
	}
	return marshaledLock{lock, b}, nil
}

// Build builds img with the wrapped Builder from the lock Resolve returned.
func (c *LockCache) Build(ctx context.Context, img compile.Image, lock Lock) (*Built, error) {
	if m, ok := lock.(marshaledLock); ok {
		lock = m.Lock
	}
	return c.Builder.Build(ctx, img, lock)
}

// marshaledLock is a lock with the bytes its Marshal gave (and the cache
// holds): the lock writer and the input digest of every spec need them,
// and marshaling a lock costs more than reading it.
type marshaledLock struct {
	Lock
	b []byte
}

func (m marshaledLock) Marshal() ([]byte, error) { return m.b, nil }

// key is the cache key of img's lock; ok is false when a repository of img
// has no mirror.
func (c *LockCache) key(img compile.Image) (key string, ok bool, err error) {
	h := sha256.New()
	contents := img.Config.Contents
	if err := json.NewEncoder(h).Encode(struct {
		Format       string
		Ref          string
		Repositories []string
		Keyring      []string
		Packages     []string
		Archs        any
	}{lockCacheFormat, img.Ref, contents.Repositories, contents.Keyring, contents.Packages, img.Config.Archs}); err != nil {
		return "", false, err
	}
	for _, repo := range contents.Repositories {
		dir := ""
		for _, m := range c.Mirrors {
			if m.URL == repo {
				dir = m.Dir
			}
		}
		if dir == "" {
			return "", false, nil
		}
		d, err := c.mirrorDigest(dir)
		if err != nil {
			return "", false, err
		}
		fmt.Fprintf(h, "%s=%s\n", repo, d)
	}
	return hex.EncodeToString(h.Sum(nil)), true, nil
}

// mirrorDigest hashes a mirror's signed indexes and keys, once per run.
func (c *LockCache) mirrorDigest(dir string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.digests[dir]; ok {
		return d, nil
	}
	indexes, err := filepath.Glob(filepath.Join(dir, "*", "APKINDEX.tar.gz"))
	if err != nil {
		return "", err
	}
	keys, err := filepath.Glob(filepath.Join(dir, "keys", "*"))
	if err != nil {
		return "", err
	}
	files := append(indexes, keys...)
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s\n", rel)
		r, err := os.Open(f)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return "", err
		}
	}
	d := hex.EncodeToString(h.Sum(nil))
	if c.digests == nil {
		c.digests = map[string]string{}
	}
	c.digests[dir] = d
	return d, nil
}
