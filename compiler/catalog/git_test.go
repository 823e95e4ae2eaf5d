package catalog

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGitCommitOnlyWhenClean checks that provenance names a commit only when
// the catalog has no uncommitted changes.
func TestGitCommitOnlyWhenClean(t *testing.T) {
	// git reads no config of the developer's.
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=t@example.org", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	ctx := context.Background()
	if got := GitCommit(ctx, dir); got != "" {
		t.Errorf("outside a git work tree: %q, want none", got)
	}
	git("init", "-q")
	file := filepath.Join(dir, "app.cue")
	if err := os.WriteFile(file, []byte("package hic\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "-q", "-m", "one")
	if got := GitCommit(ctx, dir); len(got) != 40 {
		t.Errorf("clean work tree: %q, want a commit id", got)
	}
	if err := os.WriteFile(file, []byte("package hic\n// changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := GitCommit(ctx, dir); got != "" {
		t.Errorf("uncommitted change: %q, want none", got)
	}
}
