package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hic-build/hic/compiler/sign"
)

// The catalog's git commit read in the background while the catalog loads
// is the one signingAttacher would have read itself: the commit of the
// catalog's root, only for a signed build.
func TestPendingGitCommit(t *testing.T) {
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "catalog")
	if err := os.MkdirAll(filepath.Join(root, "cue.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "app", "app.cue"), []byte("package hic\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "one"}} {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=t@example.org", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := string(out[:len(out)-1])

	if p := gitCommit(ctx, CatalogOptions{Catalog: filepath.Join(root, "app")}); p != nil {
		t.Error("an unsigned build reads the git commit")
	}
	k, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	// Catalog names a folder below the root, as --catalog may.
	p := gitCommit(ctx, CatalogOptions{Catalog: filepath.Join(root, "app"), Signer: signer})
	defer p.wait()
	if got := p.of(ctx, root); got != want {
		t.Errorf("commit of the catalog root = %q, want %q", got, want)
	}
	other := t.TempDir() // not a git work tree
	if got := p.of(ctx, other); got != "" {
		t.Errorf("commit of another directory = %q, want none (read for that directory)", got)
	}
}
