package load_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/schema"
)

// layoutHit is one catalog-layout finding: where, and words of its message
// and of its fix.
type layoutHit struct {
	pos       string
	msg, hint string
}

func layoutHits(fs []finding.Finding) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Rule == load.RuleLayout {
			out = append(out, f)
		}
	}
	return out
}

func checkLayout(t *testing.T, fs []finding.Finding, want []layoutHit) {
	t.Helper()
	got := layoutHits(fs)
	var gotPos, wantPos []string
	for _, f := range got {
		gotPos = append(gotPos, f.Pos.String())
	}
	for _, w := range want {
		wantPos = append(wantPos, w.pos)
	}
	if diff := cmp.Diff(wantPos, gotPos); diff != "" {
		t.Fatalf("catalog-layout findings (-want +got):\n%s\nall findings: %s", diff, strings.Join(render(fs), "\n"))
	}
	for i, w := range want {
		f := got[i]
		if !strings.Contains(f.Message, w.msg) || !strings.Contains(f.Hint, w.hint) || f.Severity != finding.Error {
			t.Errorf("%s: %s (fix: %s), want an error saying %q, fix %q", f.Pos, f.Message, f.Hint, w.msg, w.hint)
		}
	}
}

// TestLayout: an image is declared in catalog/NAME/NAME.cue, which declares
// it alone; anywhere else (a special folder, the root, a subfolder, another
// file name or another image's file) it is a catalog-layout error at the
// image's name, and a file of an image folder that declares no image is one
// at its package clause. The catalog's special folders hold what they are
// for without a finding.
func TestLayout(t *testing.T) {
	app := string(readApp(t))
	body := strings.TrimPrefix(app, "package hic\n") // the image, without the package clause
	helper := "package hic\n\n_x: 1\n"
	for _, tt := range []struct {
		name  string
		files map[string]string
		dirs  []string
		want  []layoutHit
	}{
		{
			name: "the layout",
			files: map[string]string{
				"app/app.cue":           app,
				"other/other.cue":       replaceImageName(app, "other"),
				"advisories/app.cue":    "package hic\n\nadvisories: app: []\n",
				"repositories/acme.cue": string(acmeRepositories(acmeFP)),
				"universe/wolfi.txt":    "@universe 1\n",
			},
		},
		{
			name:  "image in universe/",
			files: map[string]string{"universe/app.cue": app},
			want:  []layoutHit{{"universe/app.cue:4:9", "in universe/, which holds the package universes", "move it to catalog/app/app.cue"}},
		},
		{
			name:  "image in advisories/",
			files: map[string]string{"advisories/app.cue": app},
			want:  []layoutHit{{"advisories/app.cue:4:9", "in advisories/", "move it to catalog/app/app.cue"}},
		},
		{
			name:  "image in repositories/",
			files: map[string]string{"repositories/app.cue": app},
			want:  []layoutHit{{"repositories/app.cue:4:9", "in repositories/", "move it to catalog/app/app.cue"}},
		},
		{
			name:  "image at the root",
			files: map[string]string{"app.cue": app},
			want:  []layoutHit{{"app.cue:4:9", "at the catalog root", "move it to catalog/app/app.cue"}},
		},
		{
			name:  "image in a subfolder",
			files: map[string]string{"web/app/app.cue": app},
			want:  []layoutHit{{"web/app/app.cue:4:9", "in the subfolder web/app/", "move it to catalog/app/app.cue"}},
		},
		{
			name:  "image in a file of another name",
			files: map[string]string{"app/main.cue": app},
			want:  []layoutHit{{"app/main.cue:4:9", "image app is declared in app/main.cue", "move it to catalog/app/app.cue (rename the file)"}},
		},
		{
			name:  "image named unlike its folder",
			files: map[string]string{"app/app.cue": replaceImageName(app, "appx")},
			want:  []layoutHit{{"app/app.cue:4:9", "image appx is declared in app/app.cue, the file of image app", "name the image app, as its folder is, or move it to catalog/appx/appx.cue"}},
		},
		{
			name:  "a second image in an image's file",
			files: map[string]string{"app/app.cue": app + replaceImageName(body, "other")},
			want:  []layoutHit{{"app/app.cue:41:9", "image other is declared in app/app.cue beside image app", "move it to catalog/other/other.cue"}},
		},
		{
			// Renaming the file would replace the image's file.
			name:  "the image declared again in a second file beside its file",
			files: map[string]string{"app/app.cue": app, "app/extra.cue": "package hic\n\nimages: app: env: {X: \"1\"}\n"},
			want:  []layoutHit{{"app/extra.cue:3:9", "image app is declared in app/extra.cue", "move its contents into catalog/app/app.cue, which exists (renaming the file would replace it), and remove app/extra.cue"}},
		},
		{
			name:  "an image file that declares no image",
			files: map[string]string{"app/app.cue": "package hic\n", "other/other.cue": replaceImageName(app, "other")},
			want:  []layoutHit{{"app/app.cue:1:1", "declares no image", "remove the folder catalog/app/ to remove the image"}},
		},
		{
			name:  "a helper file beside the image's",
			files: map[string]string{"app/app.cue": app, "app/extra.cue": helper},
			want:  []layoutHit{{"app/extra.cue:1:1", "app/extra.cue declares no image", "move what it says into catalog/app/app.cue"}},
		},
		{
			name:  "a helper file in a folder without the image's file",
			files: map[string]string{"app/extra.cue": helper, "other/other.cue": replaceImageName(app, "other")},
			want:  []layoutHit{{"app/extra.cue:1:1", "holds one CUE file, app.cue, which declares the image (there is none)", "declare the image in catalog/app/app.cue"}},
		},
		{
			name:  "a file at the root that declares no image",
			files: map[string]string{"app/app.cue": app, "common.cue": helper},
			want:  []layoutHit{{"common.cue:1:1", "evaluates a root file with every image", "remove it"}},
		},
		{
			name:  "a file in a subfolder of an image folder",
			files: map[string]string{"app/app.cue": app, "app/sub/x.cue": helper},
			want:  []layoutHit{{"app/sub/x.cue:1:1", "in the subfolder app/sub/", "remove it"}},
		},
		{
			// A command about one image loads its folder only; the folder's
			// files, and the root files CUE adds to it, are still judged.
			name:  "one folder loaded",
			files: map[string]string{"app/main.cue": app, "common.cue": helper, "other/x.cue": replaceImageName(app, "other")},
			dirs:  []string{"app"},
			want: []layoutHit{
				{"app/main.cue:4:9", "image app is declared in app/main.cue", "rename the file"},
				{"common.cue:1:1", "at the catalog root", "remove it"},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ov := map[string][]byte{}
			for name, src := range tt.files {
				ov[filepath.FromSlash(name)] = []byte(src)
			}
			cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: ov, Dirs: tt.dirs})
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, cat.Findings, tt.want)
			if tt.want == nil && len(cat.Findings) > 0 {
				t.Errorf("findings: %s", strings.Join(render(cat.Findings), "\n"))
			}
		})
	}
}

// TestLayoutCached: the layout is judged on every load, also when the
// evaluation cache holds the folder: a cold and a warm load report a
// misplaced image alike, and renaming a cached image file (same bytes)
// away from NAME.cue is reported, not served from the cache as clean.
func TestLayoutCached(t *testing.T) {
	root := t.TempDir()
	app := readApp(t)
	write(t, root, "app/app.cue", string(app))
	write(t, root, "universe/hidden.cue", replaceImageName(string(app), "hidden"))
	cache := filepath.Join(t.TempDir(), "eval")
	hidden := []layoutHit{{"universe/hidden.cue:4:9", "in universe/", "move it to catalog/hidden/hidden.cue"}}
	for _, run := range []string{"cold", "warm"} {
		cat, err := load.Load(context.Background(), root, load.Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s load", run)
		checkLayout(t, cat.Findings, hidden)
	}
	if ents, _ := filepath.Glob(filepath.Join(cache, "[0-9a-f]*")); len(ents) == 0 {
		t.Fatal("the evaluation cache holds nothing: the warm load did not use it")
	}

	if err := os.Remove(filepath.Join(root, "universe", "hidden.cue")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "app", "app.cue"), filepath.Join(root, "app", "main.cue")); err != nil {
		t.Fatal(err)
	}
	cat, err := load.Load(context.Background(), root, load.Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, cat.Findings, []layoutHit{{"app/main.cue:4:9", "image app is declared in app/main.cue", "rename the file"}})
}

// The loader's name for the universe folder is the universe package's.
func TestUniverseDir(t *testing.T) {
	if schema.UniverseDir != universe.DirName {
		t.Errorf("schema.UniverseDir = %q, universe.DirName = %q", schema.UniverseDir, universe.DirName)
	}
}

// TestImageForms: hic reads a file's images from `images: NAME: {...}`
// written out, so every other form through which an image could be
// declared (an embedding, a comprehension, a dynamic, interpolated,
// aliased or pattern label, an expression) is a catalog-layout error where
// it is written, and the image it declares is neither built nor dropped
// without a word. A pattern changes images no image's file shows.
func TestImageForms(t *testing.T) {
	app := string(readApp(t))
	evil := strings.TrimPrefix(replaceImageName(app, "evil"), "package hic\n")
	evil = evil[strings.Index(evil, "images: evil: ")+len("images: evil: "):] // {...}
	const at = 40                                                             // the line after app.cue's
	for _, tt := range []struct {
		name, src string
		want      layoutHit
	}{
		{"a top-level embedding", "{images: evil: " + evil + "}", layoutHit{pos(at, 1), "embeds a value at its top level", "`images: NAME: {...}`"}},
		{"a top-level comprehension", "if true {images: evil: " + evil + "}", layoutHit{pos(at, 1), "comprehension (if or for) at its top level", "`images: NAME: {...}`"}},
		{"a dynamic label", "let n = \"evil\"\nimages: (n): " + evil, layoutHit{pos(at+1, 9), "a field with a dynamic label", "`images: NAME: {...}`"}},
		{"an interpolated label", "images: \"\\(\"ev\")il\": " + evil, layoutHit{pos(at, 9), "a field with an interpolated label", "`images: NAME: {...}`"}},
		{"a comprehension in images", "images: {for n in [\"evil\"] {(n): " + evil + "}}", layoutHit{pos(at, 10), "images in app/app.cue has a comprehension", "`images: NAME: {...}`"}},
		{"an embedding in images", "images: {_e}\n_e: {evil: " + evil + "}", layoutHit{pos(at, 10), "images in app/app.cue embeds a value", "`images: NAME: {...}`"}},
		{"a unification", "images: {evil: " + evil + "} & {}", layoutHit{pos(at, 9), "is an expression (a reference, & or |)", "`images: NAME: {...}`"}},
		{"a reference", "images: _x\n_x: {evil: " + evil + "}", layoutHit{pos(at, 9), "is an expression", "`images: NAME: {...}`"}},
		{"a top-level pattern", "[string]: evil: " + evil, layoutHit{pos(at, 1), "a top-level field with a pattern label", "`images: NAME: {...}`"}},
		{"an aliased label", "X=images: evil: " + evil + "\n_y: X", layoutHit{pos(at, 1), "a top-level field with an aliased label", "`images: NAME: {...}`"}},
		{"a pattern in images", "images: [string]: env: {LD_PRELOAD: \"/tmp/evil.so\"}", layoutHit{pos(at, 9), "has a pattern, `images: [...]: ...`: it changes every image of its folder", "write what the pattern says into each image it is for"}},
		{"an optional image", "images: app?: {}", layoutHit{pos(at, 9), "image app in app/app.cue is marked ?", "`images: NAME: {...}`"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: map[string][]byte{"app/app.cue": []byte(app + "\n" + tt.src + "\n")}})
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, cat.Findings, []layoutHit{tt.want})
			for _, s := range cat.Specs {
				if s.Image != "app" {
					t.Errorf("spec %s of image %s was built", s.Ref, s.Image)
				}
			}
		})
	}
}

func pos(line, col int) string { return fmt.Sprintf("app/app.cue:%d:%d", line, col) }
