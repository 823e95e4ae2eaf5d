package resolve

import (
	"errors"
	"github.com/hic-build/hic/compiler/apkindex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/testenv"
)

// Alpine's 6165ee59 key, as the tests serve it: its file name and the
// schema's pin of it (schema/distros.cue).
const (
	alpineKeyName = "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
	alpineKeyPin  = "sha256:8a70fc55f1a6fb2a392ad5a3e71aff82a637b2b33659c046f6b6a909bb5d1ab7"
)

// alpineKeys returns Alpine's real key (kept with the universe importer's
// test data) and a forged one: another RSA key of the same name.
func alpineKeys(t *testing.T) (realKey, forgedKey []byte) {
	t.Helper()
	realKey, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "compiler", "apkindex", "testdata", "keys", alpineKeyName))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := apkrepo.GenerateKey(strings.TrimSuffix(alpineKeyName, ".rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	forgedKey, err = forged.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return realKey, forgedKey
}

// TestKeyTransport: a pinned key fetched over the network (a repository
// without a mirror) reaches apko only with the pinned content. A real HTTPS
// server serves Alpine's real key, then another key under its name.
func TestKeyTransport(t *testing.T) {
	const name, pin = alpineKeyName, alpineKeyPin
	realKey, forgedKey := alpineKeys(t)
	var mu sync.Mutex
	serve := realKey
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(serve)
	}))
	defer srv.Close()
	keyURL := srv.URL + "/keys/" + name
	tr := KeyTransport(srv.Client().Transport, map[string]string{keyURL: pin})
	get := func(u string) ([]byte, error) {
		resp, err := (&http.Client{Transport: tr}).Get(u)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, errors.New(resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	// apko escapes the @ of Alpine's key names.
	for _, u := range []string{keyURL, strings.Replace(keyURL, "@", "%40", 1)} {
		b, err := get(u)
		if err != nil || string(b) != string(realKey) {
			t.Fatalf("GET %s of the real key: %q, %v", u, b, err)
		}
	}
	if b, err := get(srv.URL + "/unpinned"); err != nil || string(b) != string(realKey) {
		t.Errorf("an unpinned URL is not passed through: %q, %v", b, err)
	}

	mu.Lock()
	serve = forgedKey
	mu.Unlock()
	forgedFP, err := apkindex.KeyFingerprint(forgedKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(strings.Replace(keyURL, "@", "%40", 1))
	if err == nil {
		t.Fatal("a key with other content passes")
	}
	for _, w := range []string{"has fingerprint " + forgedFP, "the catalog's keyring pins " + pin, "/keys/alpine-devel"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if KeyTransport(nil, nil) != nil {
		t.Error("no pins: the transport is not left alone")
	}
}

// TestResolvePinnedNetworkKey: Resolve of a repository without a mirror,
// served over HTTPS (Alpine 3.16 main/aarch64's real index and Alpine's
// real key), locks with the pinned key and fails with a key of the same
// name and other content, before apko checks any index with it.
func TestResolvePinnedNetworkKey(t *testing.T) {
	const name, pin = alpineKeyName, alpineKeyPin
	td := testenv.ApkoTestdata(t)
	index, err := os.ReadFile(filepath.Join(td, "alpine-316", "APKINDEX.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	realKey, forgedKey := alpineKeys(t)
	// apko remembers fetches by URL for the process: a server each.
	resolveWith := func(key []byte) (*Lock, error) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/aarch64/APKINDEX.tar.gz"):
				w.Write(index)
			case strings.HasSuffix(r.URL.Path, ".rsa.pub"):
				w.Write(key)
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()
		keyURL := srv.URL + "/keys/" + name
		img := compile.Image{
			Ref: "base:1-alpine-3.16-runtime",
			Config: compile.Config{
				Contents: compile.Contents{
					Repositories: []string{srv.URL + "/mirror/main"},
					Keyring:      []string{keyURL},
					Packages:     []string{"alpine-baselayout=3.2.0-r23"},
				},
				Archs: []string{"arm64"},
			},
			KeyPins: map[string]string{keyURL: pin},
		}
		return Resolve(t.Context(), img, Options{TempDir: t.TempDir(), Transport: srv.Client().Transport})
	}
	lock, err := resolveWith(realKey)
	if err != nil {
		t.Fatalf("the real key: %v", err)
	}
	if ps := lock.Archs["aarch64"]; len(ps) == 0 {
		t.Errorf("lock: %+v", lock)
	}
	_, err = resolveWith(forgedKey)
	if err == nil || !strings.Contains(err.Error(), "the catalog's keyring pins "+pin) {
		t.Errorf("a forged key over the network: %v", err)
	}
}
