package resolve

import (
	"github.com/hic-build/hic/compiler/apkindex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/build/types"

	"github.com/hic-build/hic/compiler/testenv"
)

// TestRealSignedIndexes reads indexes no one on this project wrote, from
// apko's module test data: Alpine 3.16 main/aarch64 as Alpine published it
// (RSA with SHA-1, Alpine's key) and a melange-made index signed RSA256.
// hic's index check accepts them with the right key and refuses them with
// a flipped byte or another key.
func TestRealSignedIndexes(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	// Alpine signs aarch64 indexes with its 6165ee59 key; the public key is
	// kept with the universe importer's test data.
	alpineKey := "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
	alpineKeyPath := filepath.Join(testenv.RepoRoot(t), "compiler", "apkindex", "testdata", "keys", alpineKey)
	for _, tt := range []struct {
		name, index, keyName, keyPath, want string // keyPath: absolute, or relative to td
		min                                 int
	}{
		{"alpine 3.16 main (RSA/SHA-1)", "alpine-316/APKINDEX.tar.gz", alpineKey, alpineKeyPath, "alpine-baselayout=3.2.0-r23", 1000},
		{"melange index (RSA256)", "rsa256-signed/APKINDEX.tar.gz", "test-rsa256.rsa.pub", "rsa256-signed/test-rsa256.rsa.pub", "alpine-baselayout=3.2.0-r23", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			index := filepath.Join(td, tt.index)
			kp := tt.keyPath
			if !filepath.IsAbs(kp) {
				kp = filepath.Join(td, kp)
			}
			trusted := map[string]string{tt.keyName: kp}
			pkgs, _, err := ReadIndex(index, trusted)
			if err != nil {
				t.Fatalf("the real index does not verify: %v", err)
			}
			if len(pkgs) < tt.min || pkgs[tt.want] == nil {
				t.Errorf("%d packages, want at least %d with %s", len(pkgs), tt.min, tt.want)
			}

			// The same index with one byte of its signed part flipped.
			b, err := os.ReadFile(index)
			if err != nil {
				t.Fatal(err)
			}
			_, signed, err := verifiedIndex(index, trusted)
			if err != nil {
				t.Fatal(err)
			}
			flipped := append([]byte(nil), b...)
			flipped[len(b)-len(signed)+len(signed)/2] ^= 0x01
			bad := filepath.Join(t.TempDir(), "APKINDEX.tar.gz")
			if err := os.WriteFile(bad, flipped, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ReadIndex(bad, trusted); err == nil {
				t.Error("an index with a flipped byte verifies")
			}

			// The right signature, checked against another key of that name.
			other := map[string]string{tt.keyName: filepath.Join(td, "rsa256-signed", "test-rsa256.rsa.pub")}
			if strings.HasPrefix(tt.keyName, "test-rsa256") {
				other[tt.keyName] = alpineKeyPath
			}
			if _, _, err := ReadIndex(index, other); err == nil {
				t.Error("the index verifies with a key that did not sign it")
			}
		})
	}
}

// TestKeyPinnedByContent: a mirror's key file is trusted only when its
// content has the fingerprint the catalog's keyring pins for it (or the one
// the mirror's manifest pins, for a mirror re-signed with a key of its own).
// The real key passes and the real Alpine index verifies with it; a key of
// the same name with other content is refused, naming the file and both
// fingerprints.
func TestKeyPinnedByContent(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	const (
		name = alpineKeyName
		url  = "https://alpinelinux.org/keys/" + name
		repo = "https://dl-cdn.alpinelinux.org/alpine/v3.16/main"
		pin  = alpineKeyPin
	)
	realKey, forgedKey := alpineKeys(t)
	forgedFP, err := apkindex.KeyFingerprint(forgedKey)
	if err != nil {
		t.Fatal(err)
	}
	mirror := func(t *testing.T, key []byte) string {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "aarch64"), 0o755); err != nil {
			t.Fatal(err)
		}
		idx, err := os.ReadFile(filepath.Join(td, "alpine-316", "APKINDEX.tar.gz"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "aarch64", "APKINDEX.tar.gz"), idx, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "keys", name), key, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	var cfg types.ImageConfiguration
	cfg.Contents.Repositories = []string{repo}
	cfg.Contents.Keyring = []string{url}
	pins := map[string]string{url: pin}

	t.Run("real key", func(t *testing.T) {
		dir := mirror(t, realKey)
		s, err := NewSources(cfg, []Mirror{{URL: repo, Dir: dir}}, pins)
		if err != nil {
			t.Fatalf("the real key is refused: %v", err)
		}
		trusted := s.TrustedKeys(repo)
		if trusted[name] != filepath.Join(dir, "keys", name) {
			t.Fatalf("trusted keys %v, want %s", trusted, name)
		}
		pkgs, _, err := ReadIndex(filepath.Join(dir, "aarch64", "APKINDEX.tar.gz"), trusted)
		if err != nil || len(pkgs) < 1000 {
			t.Fatalf("the real index with the pinned key: %d packages, %v", len(pkgs), err)
		}
	})
	t.Run("forged key of the same name", func(t *testing.T) {
		dir := mirror(t, forgedKey)
		_, err := NewSources(cfg, []Mirror{{URL: repo, Dir: dir}}, pins)
		if err == nil {
			t.Fatal("a key file with other content is trusted by its name")
		}
		for _, w := range []string{filepath.Join(dir, "keys", name), "has fingerprint " + forgedFP, "the catalog's keyring pins " + pin} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	})
	t.Run("forged key the mirror pins", func(t *testing.T) {
		// A generated mirror re-signs with its own key and pins it in its
		// manifest, which then takes the place of the keyring's pin.
		dir := mirror(t, forgedKey)
		if _, err := NewSources(cfg, []Mirror{{URL: repo, Dir: dir, Keys: map[string]string{name: forgedFP}}}, pins); err != nil {
			t.Errorf("the mirror's own pinned key is refused: %v", err)
		}
		_, err := NewSources(cfg, []Mirror{{URL: repo, Dir: dir, Keys: map[string]string{name: pin}}}, pins)
		if err == nil || !strings.Contains(err.Error(), "the mirror pins "+pin) {
			t.Errorf("a key the mirror pins otherwise: %v", err)
		}
	})
}
