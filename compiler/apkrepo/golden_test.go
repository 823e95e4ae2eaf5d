package apkrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.sha256")

// TestGoldenRepository pins the bytes of a small wolfi and alpine universe
// written with the committed test key (testdata/golden.rsa, a throwaway
// key for this test only): any change of the format, the synthesized
// universe or the compressor shows up here, and so would output that
// depends on the process (map order, time, randomness).
// Regenerate with: go test ./compiler/apkrepo -run Golden -update
func TestGoldenRepository(t *testing.T) {
	key, err := LoadKey(filepath.Join("testdata", "golden.rsa"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, distro := range []string{DistroWolfi, DistroAlpine} {
		dir := t.TempDir()
		pkgs := Synthesize(SynthOptions{Distro: distro, Requests: []Request{
			{Name: "nginx", Version: "1.27.3-r0", Executables: []string{"/usr/sbin/nginx"}, Depends: []string{"pcre2"}},
			{Name: "python-3.13", Version: "3.13.1-r0"},
		}})
		if _, err := WriteRepository(context.Background(), dir, key, pkgs); err != nil {
			t.Fatal(err)
		}
		tree := readTree(t, dir)
		for _, p := range slices.Sorted(maps.Keys(tree)) {
			sum := sha256.Sum256(tree[p])
			lines = append(lines, fmt.Sprintf("%s  %s/%s", hex.EncodeToString(sum[:]), distro, filepath.ToSlash(p)))
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "golden.sha256")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("repository bytes changed (-golden +got); if intended, run with -update:\n%s", diff)
	}
}
