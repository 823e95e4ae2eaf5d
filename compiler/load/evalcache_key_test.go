package load

import (
	"os"
	"path/filepath"
	"testing"
)

// The evaluation cache keys a folder by every file its evaluation reads:
// its own, those of the packages it imports (transitively) and
// cue.mod/module.cue. Load evaluates no folder with such an import (rule
// catalog-sandbox), but the key must not go stale should it ever do.
func TestEvalCacheKeyCoversImports(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cue.mod/module.cue", "module: \"hic.local/catalog\"\nlanguage: version: \"v0.17.0\"\n")
	write("_lib/a/a.cue", "package a\n\nimport \"hic.local/catalog/_lib/b\"\n\nenv: b.env\n")
	write("_lib/b/b.cue", "package b\n\nenv: {X: \"1\"}\n")
	write("app/app.cue", "package hic\n\nimport \"hic.local/catalog/_lib/a\"\n\nimages: app: env: a.env\n")
	ec := newEvalCache(t.TempDir())
	if ec == nil {
		t.Skip("no program identity: nothing is cached")
	}
	key := func() string {
		t.Helper()
		sb, err := newSandbox(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		inst := instances(sb, root, []string{"./app"})[0]
		if inst.Err != nil {
			t.Fatal(inst.Err)
		}
		if len(inst.Imports) != 1 {
			t.Fatalf("app imports %d packages, want 1", len(inst.Imports))
		}
		k := ec.key(sb, root, inst, "app")
		if k == "" {
			t.Fatal("no key")
		}
		return k
	}
	k := key()
	if key() != k {
		t.Fatal("the key changes with nothing edited")
	}
	for _, edit := range []struct{ file, src string }{
		{"_lib/b/b.cue", "package b\n\nenv: {X: \"2\"}\n"}, // imported by the import
		{"_lib/a/a.cue", "package a\n\nimport \"hic.local/catalog/_lib/b\"\n\nenv: b.env & {Y: \"1\"}\n"},
		{"cue.mod/module.cue", "module: \"hic.local/catalog\"\nlanguage: version: \"v0.16.0\"\n"},
	} {
		write(edit.file, edit.src)
		next := key()
		if next == k {
			t.Errorf("%s edited, the key is unchanged: the cache would serve the old value", edit.file)
		}
		k = next
	}
	// An @embed in an imported file: the embedded file is an input the key
	// does not see, so the folder is not cached.
	write("_lib/b/b.cue", "@extern(embed)\n\npackage b\n\nenv: _ @embed(file=env.json)\n")
	write("_lib/b/env.json", "{\"X\": \"3\"}\n")
	sb, err := newSandbox(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if k := ec.key(sb, root, instances(sb, root, []string{"./app"})[0], "app"); k != "" {
		t.Errorf("an import that embeds a file is cached, key %s", k)
	}
}
