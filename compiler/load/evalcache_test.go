package load_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
)

type loadResult struct {
	Specs    json.RawMessage
	Files    []string
	Findings []finding.Finding
	Pos      []finding.Position
}

func loadWith(t *testing.T, root, cache string) loadResult {
	t.Helper()
	cat, err := load.Load(context.Background(), root, load.Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cat.Specs)
	if err != nil {
		t.Fatal(err)
	}
	r := loadResult{Specs: b, Findings: cat.Findings}
	for _, s := range cat.Specs {
		r.Files = append(r.Files, s.File)
		r.Pos = append(r.Pos, s.Pos("ports.1"), s.Pos("dates.eol"), s.Pos(""))
	}
	return r
}

// A load through the evaluation cache, cold or warm, gives what a load
// without it gives (specs, their files and positions, findings), and an
// edited file is evaluated again, never served from the cache.
func TestEvalCache(t *testing.T) {
	root := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app := string(readApp(t))
	write("app/app.cue", app)
	write("b/b.cue", replaceImageName(app, "b"))
	write("d/d.cue", replaceImageName(app, "d")+"\nimages: d: ports: [\"80/sctp\"]\n")
	// A folder redefining a schema definition: its finding comes from the
	// schema, which a warm load evaluates only for such a folder.
	write("e/e.cue", replaceImageName(app, "e")+"\n#Distros: wolfi: repositories: [\"http://packages.wolfi.dev/os\"]\n")
	cache := filepath.Join(t.TempDir(), "eval")

	want := loadWith(t, root, "")
	if len(want.Findings) == 0 {
		t.Fatal("the broken image has no findings")
	}
	redefined := false
	for _, f := range want.Findings {
		redefined = redefined || strings.Contains(f.Message, "#Distros is a schema definition")
	}
	if !redefined {
		t.Fatalf("no finding for the redefined #Distros: %v", want.Findings)
	}
	for _, run := range []string{"cold", "warm"} {
		if diff := cmp.Diff(want, loadWith(t, root, cache)); diff != "" {
			t.Errorf("%s cache changes the result (-without +with):\n%s", run, diff)
		}
	}
	ents, err := filepath.Glob(filepath.Join(cache, "[0-9a-f]*"))
	if err != nil || len(ents) != 4 {
		t.Fatalf("cache holds %d entries (%v), want one per image folder", len(ents), err)
	}

	write("b/b.cue", replaceImageName(app, "b")+"\nimages: b: ports: [\"80/sctp\"]\n")
	write("d/d.cue", replaceImageName(app, "d"))
	want = loadWith(t, root, "")
	if diff := cmp.Diff(want, loadWith(t, root, cache)); diff != "" {
		t.Errorf("after an edit the cache serves a stale result (-without +with):\n%s", diff)
	}
}
