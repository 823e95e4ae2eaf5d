package resolve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	alpineKeyPath := filepath.Join(testenv.RepoRoot(t), "compiler", "universe", "testdata", "keys", alpineKey)
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
