package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/testenv"
	"github.com/hic-build/hic/compiler/universe"
)

// TestIndexImportRealAlpine imports the real Alpine 3.16 index apko ships
// as test data, checks the universe written has its real package count,
// and that a tampered copy is refused without touching the universe.
func TestIndexImportRealAlpine(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	key := filepath.Join("..", "..", "compiler", "apkindex", "testdata", "keys", "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub")
	const fp = "sha256:8a70fc55f1a6fb2a392ad5a3e71aff82a637b2b33659c046f6b6a909bb5d1ab7"
	out := t.TempDir()
	index := filepath.Join(td, "alpine-316", "APKINDEX.tar.gz")
	args := []string{"index", "import", "alpine-3.22", "--out", out, "--key", key, "--fingerprint", fp}
	stdout := hicCLI(t, nil, append(args, "https://dl-cdn.alpinelinux.org/alpine/v3.16/main="+index)...).must(t, 0).Stdout
	if !strings.Contains(stdout, "alpine-3.22: 4929 packages (snapshot 2022-11-21)") || !strings.Contains(stdout, "signed by alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub") {
		t.Errorf("summary:\n%s", stdout)
	}
	u, err := universe.ReadDir(out, "alpine-3.22")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Packages) != 4929 || u.Sources[0].Name != "main" || u.Sources[0].URL != "https://dl-cdn.alpinelinux.org/alpine/v3.16/main" {
		t.Errorf("universe: %d packages, sources %+v", len(u.Packages), u.Sources)
	}
	before, _ := os.ReadFile(filepath.Join(out, "alpine-3.22.txt"))

	// A tampered index: one byte of the signed part changed.
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-64] ^= 0x20
	bad := filepath.Join(t.TempDir(), "APKINDEX.tar.gz")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := hicCLI(t, nil, append(args, bad)...); r.Code != 1 || !strings.Contains(r.Stderr, "does not verify") {
		t.Errorf("tampered index: %s", r)
	}
	after, _ := os.ReadFile(filepath.Join(out, "alpine-3.22.txt"))
	if string(before) != string(after) {
		t.Error("a refused import changed the universe")
	}

	// A key that is not pinned, and an unknown distro, are usage errors.
	if r := hicCLI(t, nil, "index", "import", "alpine-3.22", "--out", out, "--key", key, "--fingerprint", "sha256:"+strings.Repeat("0", 64), index); r.Code != 2 || !strings.Contains(r.Stderr, "not pinned") {
		t.Errorf("unpinned key: %s", r)
	}
	if r := hicCLI(t, nil, "index", "import", "debian-13", "--key", key, index); r.Code != 2 || !strings.Contains(r.Stderr, `unknown distro "debian-13"`) {
		t.Errorf("unknown distro: %s", r)
	}
}
