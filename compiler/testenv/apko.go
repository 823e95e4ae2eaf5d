package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ApkoTestdata returns the directory of real APK artifacts apko's module
// ships as test data (pkg/apk/apk/testdata: Alpine 3.16/3.17 indexes
// signed by Alpine's keys, melange-signed RSA256 indexes, real .apk files),
// read from the module cache of the apko version go.mod requires. It fails
// the test when the module is not downloaded (`go mod download chainguard.dev/apko`).
func ApkoTestdata(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(ApkoModule(t), "pkg", "apk", "apk", "testdata")
	if _, err := os.Stat(filepath.Join(dir, "alpine-316", "APKINDEX.tar.gz")); err != nil {
		t.Fatalf("testenv: apko's test data is missing: %v (run `go mod download chainguard.dev/apko`)", err)
	}
	return dir
}

// ApkoModule returns the source directory of the apko module go.mod
// requires, in the module cache: its test data holds real packages besides
// those of ApkoTestdata (internal/cli/testdata, pkg/apk/fs/testdata). It
// fails the test when the module is not downloaded.
func ApkoModule(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "chainguard.dev/apko")
	cmd.Dir = RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testenv: locate the apko module: %v (run `go mod download chainguard.dev/apko`)", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("testenv: the apko module is not downloaded (run `go mod download chainguard.dev/apko`)")
	}
	return dir
}
