package schema

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"github.com/hic-build/hic/compiler/apkindex"
	"github.com/hic-build/hic/compiler/testenv"
)

// TestDistroKeyPins checks the schema's key pins against real key files no
// one on this project wrote: Alpine's 4a6a0840 key as apko's module test
// data carries it, and its 6165ee59 and 616ae350 keys kept with the universe
// importer's test data. Every keyring key of every distro has a pin, and
// every Alpine release has the same five.
func TestDistroKeyPins(t *testing.T) {
	v, err := Evaluate(cuecontext.New())
	if err != nil {
		t.Fatal(err)
	}
	var distros map[string]struct {
		Keyrings []string          `json:"keyrings"`
		Keys     map[string]string `json:"keys"`
		Released string            `json:"released"`
		EOL      string            `json:"eol"`
	}
	if err := v.LookupPath(cue.ParsePath(DistrosPath)).Decode(&distros); err != nil {
		t.Fatal(err)
	}
	real := map[string]string{
		"alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub": filepath.Join(testenv.ApkoTestdata(t), "alpine-316", "alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"),
	}
	for _, n := range []string{"6165ee59", "616ae350"} {
		name := "alpine-devel@lists.alpinelinux.org-" + n + ".rsa.pub"
		real[name] = filepath.Join(testenv.RepoRoot(t), "compiler", "apkindex", "testdata", "keys", name)
	}
	checked := map[string]bool{}
	for d, dist := range distros {
		if len(dist.Keys) != len(dist.Keyrings) {
			t.Errorf("%s: %d keys pinned for %d keyring keys", d, len(dist.Keys), len(dist.Keyrings))
		}
		for _, k := range dist.Keyrings {
			pin, ok := dist.Keys[k]
			if !ok {
				t.Errorf("%s: keyring key %s has no pin", d, k)
				continue
			}
			if strings.HasPrefix(d, "alpine-") && pin == "unpinned" {
				t.Errorf("%s: key %s is unpinned", d, k)
			}
			file, ok := real[path.Base(k)]
			if !ok {
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fp, err := apkindex.KeyFingerprint(b)
			if err != nil {
				t.Fatal(err)
			}
			if pin != fp {
				t.Errorf("%s: key %s is pinned to %s, the real key file %s has %s", d, k, pin, file, fp)
			}
			checked[path.Base(k)] = true
		}
	}
	if len(checked) != len(real) {
		t.Errorf("checked %d of the %d real keys: %v", len(checked), len(real), checked)
	}
	a := distros["alpine-3.24"]
	if a.Released != "2026-06-09" || a.EOL != "2028-06-01" {
		t.Errorf("alpine-3.24: released %q, eol %q", a.Released, a.EOL)
	}
	if got, want := strings.Join(a.Keyrings, " "), strings.Join(distros["alpine-3.23"].Keyrings, " "); got != want {
		t.Errorf("alpine-3.24 keyring %s, want 3.23's %s", got, want)
	}
}
