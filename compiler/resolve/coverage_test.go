package resolve

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/build/types"
)

// TestCheckCovered: a repository no mirror covers is an *UncoveredError; a
// mirror directory without the index of an architecture a spec builds for
// (an empty or misplaced directory) is a *NoIndexError naming the file, not
// "nothing provides" for every package later.
func TestCheckCovered(t *testing.T) {
	const wolfi = "https://packages.wolfi.dev/os"
	dir := t.TempDir()
	cfgs := map[string]types.ImageConfiguration{
		"app:1-wolfi-runtime": {
			Contents: types.ImageContents{Repositories: []string{wolfi}},
			Archs:    []types.Architecture{types.ParseArchitecture("amd64"), types.ParseArchitecture("arm64")},
		},
	}
	if err := CheckCovered(cfgs, nil); !errors.As(err, new(*UncoveredError)) {
		t.Errorf("no mirror: %v, want an *UncoveredError", err)
	}
	mirrors := []Mirror{{URL: wolfi + "/", Dir: dir}}
	var noIndex *NoIndexError
	err := CheckCovered(cfgs, mirrors)
	if !errors.As(err, &noIndex) || len(noIndex.Files) != 2 {
		t.Fatalf("an empty mirror directory: %v, want a *NoIndexError naming both architectures' indexes", err)
	}
	amd := filepath.Join(dir, "x86_64", "APKINDEX.tar.gz")
	if err := os.MkdirAll(filepath.Dir(amd), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(amd, []byte("index"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = CheckCovered(cfgs, mirrors)
	arm := filepath.Join(dir, "aarch64", "APKINDEX.tar.gz")
	if !errors.As(err, &noIndex) || len(noIndex.Files) != 1 || noIndex.Files[arm] == nil {
		t.Fatalf("a mirror without aarch64: %v, want a *NoIndexError naming %s", err, arm)
	}
	for _, want := range []string{arm, wolfi, "app:1-wolfi-runtime", "hic mirror"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(arm), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(arm, []byte("index"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckCovered(cfgs, mirrors); err != nil {
		t.Errorf("a mirror with both indexes: %v", err)
	}
}
