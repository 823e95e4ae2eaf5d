package hellorepo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hic-build/hic/compiler/apkindex"
	"github.com/hic-build/hic/compiler/universe"
)

// TestCatalogUniverseMatchesRepository keeps examples/catalog/universe in
// step with the repository this package writes: importing its signed
// indexes gives the same packages, versions, dependencies and provides.
// Regenerate with the hic index import command in the universe file's
// CONTRIBUTING section when it fails.
func TestCatalogUniverseMatchesRepository(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{}
	for _, a := range GOARCHes {
		p := filepath.Join(dir, "hello-"+a)
		if err := os.WriteFile(p, []byte("#!hello "+a), 0o755); err != nil {
			t.Fatal(err)
		}
		bins[a] = p
	}
	repo := filepath.Join(dir, "mirror")
	if _, err := Write(t.Context(), repo, bins); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(repo, RepoDir, "keys", KeyName+".rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := apkindex.NewKeyring(map[string][]byte{KeyName + ".rsa.pub": pub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var idx []apkindex.Index
	for _, a := range GOARCHes {
		p := filepath.Join(repo, RepoDir, a, "APKINDEX.tar.gz")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, apkindex.Index{Source: "os", URL: URL, Location: p, Data: b})
	}
	got, _, err := apkindex.Import(apkindex.ImportOptions{Distro: "wolfi", Keys: kr}, idx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := universe.ReadDir(filepath.Join("..", "catalog", "universe"), "wolfi")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.Packages, got.Packages, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("examples/catalog/universe/wolfi.txt is not what examples/hellorepo serves (-file +repository):\n%s", d)
	}
	if want.Sources[0].URL != URL || want.Sources[0].From != "examples/hellorepo" {
		t.Errorf("source %+v, want url %s from examples/hellorepo", want.Sources[0], URL)
	}
}
