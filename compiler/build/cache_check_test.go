package build

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chainguard-dev/clog"

	"github.com/hic-build/hic/compiler/resolve"
)

// TestEditedPackageCacheIsRefetched: a build from the catalog's repository
// (no mirror) leaves the packages in apko's cache under CacheDir. A cache
// entry edited between builds (control segment, data segment, or the
// uncompressed data apko lays out) is detected against the lock, named in
// the log, removed and fetched again: the image is the first build's.
func TestEditedPackageCacheIsRefetched(t *testing.T) {
	dir, _, _ := setup(t)
	// A repository URL of its own: apko caches indexes and keys by URL for
	// the whole process, and other tests serve other contents at repoURL.
	const ownURL, ownKey = "https://apk.example.test/cache-check", "https://keys.example.test/hic-test.rsa.pub"
	remote := renameTransport{map[string]string{ownURL: repoURL, ownKey: keyURL}, dirTransport{dir: copyDir(t, dir)}}
	img := testImage()
	img.Config.Contents.Repositories = []string{ownURL}
	img.Config.Contents.Keyring = []string{ownKey}
	lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Transport: remote, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	first, err := Build(testCtx(t), img, lock, Options{Transport: remote, CacheDir: cache, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(cache, "https%3A%2F%2Fapk.example.test%2Fcache-check", "x86_64", "hello-1.1.0-r0")
	for _, suffix := range []string{".ctl.tar.gz", ".dat.tar.gz", ".dat.tar"} {
		t.Run(suffix, func(t *testing.T) {
			matches, _ := filepath.Glob(filepath.Join(entry, "*"+suffix))
			if len(matches) != 1 {
				t.Fatalf("apko's cache entry %s has %d files *%s, want 1", entry, len(matches), suffix)
			}
			b, err := os.ReadFile(matches[0])
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(matches[0], b, 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			ctx := clog.WithLogger(t.Context(), clog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
			again, err := Build(ctx, img, lock, Options{Transport: remote, CacheDir: cache, TempDir: t.TempDir()})
			if err != nil {
				t.Fatalf("build after the edit: %v", err)
			}
			if a, b := digest(t, first.Index), digest(t, again.Index); a != b {
				t.Errorf("the edited cache changed the image: %s, then %s", a, b)
			}
			if !strings.Contains(logs.String(), "package cache entry altered") || !strings.Contains(logs.String(), "hello-1.1.0-r0") {
				t.Errorf("the edit is not named in the log:\n%s", logs.String())
			}
			if got, err := os.ReadFile(matches[0]); err != nil || bytes.Equal(got, b) {
				t.Errorf("the edited file is still in the cache (%v)", err)
			}
		})
	}
}

// renameTransport serves URLs under the keys of from as the URLs they map to.
type renameTransport struct {
	from map[string]string
	next http.RoundTripper
}

func (r renameTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL.String()
	for from, to := range r.from {
		if strings.HasPrefix(u, from) {
			nu, err := url.Parse(to + strings.TrimPrefix(u, from))
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.URL = nu
			break
		}
	}
	return r.next.RoundTrip(req)
}
