package load_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
)

func readApp(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "app.cue"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadOverlay loads a catalog that exists only as an overlay and checks
// the specs, their files and where their fields are written.
func TestLoadOverlay(t *testing.T) {
	cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: map[string][]byte{"app/app.cue": readApp(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Findings) != 0 {
		t.Fatalf("findings: %+v", cat.Findings)
	}
	var refs []string
	for _, s := range cat.Specs {
		refs = append(refs, s.Ref)
		if s.File != "app/app.cue" {
			t.Errorf("%s: File = %q", s.Ref, s.File)
		}
	}
	want := []string{
		"app:2.0-alpine-3.23-dev", "app:2.0-alpine-3.23-runtime", "app:2.0-wolfi-dev", "app:2.0-wolfi-runtime",
		"app:2.1-alpine-3.23-dev", "app:2.1-alpine-3.23-runtime", "app:2.1-wolfi-dev", "app:2.1-wolfi-runtime",
	}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Fatalf("refs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"app/app.cue"}, cat.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}

	s := cat.Specs[1] // app:2.0-alpine-3.23-runtime
	if s.MainPackage != "app=2.0.9-r3" || s.Version != "2.0.9" {
		t.Errorf("main package %q version %q, want the alpine override 2.0.9-r3", s.MainPackage, s.Version)
	}
	pos := func(line, col int) finding.Position {
		return finding.Position{File: "app/app.cue", Line: line, Column: col}
	}
	for _, tt := range []struct {
		field string
		want  finding.Position
	}{
		{"", pos(4, 9)},                      // the image
		{"ports.1", pos(29, 22)},             // "9090/udp"
		{"dates.eol", pos(20, 4)},            // the stream's eol
		{"mainPackage", pos(18, 14)},         // versions: "alpine-3.23": ...
		{"paths.1.mode", pos(33, 26)},        // 0o750
		{"env.APP_HOME", pos(28, 8)},         // APP_HOME
		{"exceptions.0.reason", pos(21, 39)}, // the stream's exception
		{"runAs", pos(24, 2)},                // user: falls back to the user block
	} {
		if got := s.Pos(tt.field); got != tt.want {
			t.Errorf("Pos(%q) = %v, want %v", tt.field, got, tt.want)
		}
	}
}

// TestLoadParallelismInvariant: the jobs and the contexts' sizes do not change
// the result.
func TestLoadParallelismInvariant(t *testing.T) {
	ov := map[string][]byte{"app/app.cue": readApp(t)}
	for i, name := range []string{"b", "c", "d", "e"} {
		ov[name+"/"+name+".cue"] = []byte(replaceImageName(string(readApp(t)), name))
		if i == 2 { // one broken image among them
			ov[name+"/"+name+".cue"] = []byte(replaceImageName(string(readApp(t)), name) + "\nimages: d: ports: [\"80/sctp\"]\n")
		}
	}
	type result struct {
		Refs     []string
		Findings []finding.Finding
	}
	var first *result
	for _, o := range []load.Options{{Jobs: 1, InstancesPerContext: 1}, {Jobs: 1}, {Jobs: 4, InstancesPerContext: 2}, {}} {
		o.Overlay = ov
		cat, err := load.Load(context.Background(), t.TempDir(), o)
		if err != nil {
			t.Fatal(err)
		}
		r := &result{Findings: cat.Findings}
		for _, s := range cat.Specs {
			r.Refs = append(r.Refs, s.Ref)
		}
		if len(r.Refs) != 32 || len(r.Findings) == 0 {
			t.Errorf("options %+v: %d specs and %d findings, want 32 and the broken image's", o, len(r.Refs), len(r.Findings))
		}
		if first == nil {
			first = r
			continue
		}
		if diff := cmp.Diff(first, r); diff != "" {
			t.Errorf("options %+v change the result (-first +got):\n%s", o, diff)
		}
	}
}

func replaceImageName(src, name string) string {
	return strings.Replace(src, "images: app: {", "images: "+name+": {", 1)
}

// TestLoadNotADirectory is the one load error that is not a finding.
func TestLoadNotADirectory(t *testing.T) {
	if _, err := load.Load(context.Background(), filepath.Join(t.TempDir(), "missing"), load.Options{}); err == nil {
		t.Error("Load of a missing directory: no error")
	}
}

// TestLoadCancelled returns the context's error.
func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := load.Load(ctx, t.TempDir(), load.Options{Overlay: map[string][]byte{"app/app.cue": readApp(t)}})
	if err == nil {
		t.Error("Load with a cancelled context: no error")
	}
}

// TestLoadDirsWidensToSharedRepository checks that loading some image folders
// also loads every folder publishing into the same repository, so the tag
// rules see all specs that could claim those tags, and nothing else.
func TestLoadDirsWidensToSharedRepository(t *testing.T) {
	app := string(readApp(t))
	rename := func(name, repo string) []byte {
		label := `"` + name + `"`
		s := strings.Replace(app, "images: app:", "images: "+label+":", 1)
		if repo != "" {
			s = strings.Replace(s, "images: "+label+": {", "images: "+label+": {\n\trepository: \""+repo+"\"", 1)
		}
		return []byte(s)
	}
	overlay := map[string][]byte{
		"app/app.cue":               rename("app", ""),
		"app-alpine/app-alpine.cue": rename("app-alpine", "app"),
		"other/other.cue":           rename("other", ""),
	}
	cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: overlay, Dirs: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Findings) > 0 {
		t.Fatalf("findings: %+v", cat.Findings)
	}
	images := map[string]bool{}
	for _, s := range cat.Specs {
		images[s.Image] = true
	}
	if diff := cmp.Diff(map[string]bool{"app": true, "app-alpine": true}, images); diff != "" {
		t.Errorf("images loaded for Dirs [app] (-want +got):\n%s", diff)
	}
}

// TestLoadNestedModule: a catalog root one level above the real one (its
// folder catalog/ has its own cue.mod) is reported with what went wrong and
// how to fix it, not as an empty syntax error.
func TestLoadNestedModule(t *testing.T) {
	root := t.TempDir()
	for name, data := range map[string][]byte{
		"catalog/cue.mod/module.cue": []byte("module: \"hic.local/catalog\"\nlanguage: version: \"v0.17.0\"\n"),
		"catalog/app/app.cue":        readApp(t),
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := load.Load(context.Background(), root, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Findings) != 1 {
		t.Fatalf("findings: %v, want one", cat.Findings)
	}
	f := cat.Findings[0]
	if f.Rule != load.RuleSyntax || !strings.Contains(f.Message, "catalog/app") || !strings.Contains(f.Message, "nested module") || !strings.Contains(f.Hint, "--catalog") {
		t.Errorf("finding %+v: want the folder, the nested module and --catalog named", f)
	}
}
