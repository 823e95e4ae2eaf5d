package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as the hic command of the script tests:
// each script runs the real CLI as a process in its own work directory, with
// a clean environment (no HIC_* variables, no developer git config). The
// package's other tests get a clean one too (cleanEnv).
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "hic" { // a script's hic: testscript set its environment
		testscript.Main(m, hicCommand)
		return
	}
	home, err := cleanEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clean test environment:", err)
		os.Exit(2)
	}
	testscript.Main(cleanup{m, home}, hicCommand)
}

var hicCommand = map[string]func(){
	"hic": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
}

// cleanEnv gives the test process (and the processes it starts) an
// environment of its own: HOME and the XDG directories in a new temporary
// directory (so no test reads or writes the developer's ~/.cache/hic, docker
// or cosign config), git without the global and system config, and no HIC_*
// or SOURCE_DATE_EPOCH variables (HIC_TEST_* stay). Go's own caches stay where they were, so
// go list and go build in tests neither download nor rebuild everything.
func cleanEnv() (home string, err error) {
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		if os.Getenv(k) != "" {
			continue
		}
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			return "", fmt.Errorf("go env %s: %w", k, err)
		}
		os.Setenv(k, strings.TrimSpace(string(out)))
	}
	home, err = os.MkdirTemp("", "hic-test-home-")
	if err != nil {
		return "", err
	}
	for k, v := range map[string]string{
		"HOME": home, "XDG_CACHE_HOME": filepath.Join(home, ".cache"), "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"XDG_DATA_HOME": filepath.Join(home, ".local", "share"), "DOCKER_CONFIG": filepath.Join(home, ".docker"),
		"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
	} {
		os.Setenv(k, v)
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		// HIC_TEST_* steer the tests themselves (HIC_TEST_ARTIFACTS).
		if (strings.HasPrefix(k, "HIC_") && !strings.HasPrefix(k, "HIC_TEST_")) || k == "SOURCE_DATE_EPOCH" {
			os.Unsetenv(k)
		}
	}
	return home, nil
}

// cleanup runs the tests, then removes the clean environment's home.
type cleanup struct {
	m    *testing.M
	home string
}

func (c cleanup) Run() int {
	code := c.m.Run()
	os.RemoveAll(c.home)
	return code
}

// TestScript runs the CLI script tests, testdata/script/*.txtar. A script
// is a txtar archive: commands first, then the files they use, among them
// the expected output. Beside testscript's commands (exec, cmp, stdout,
// stderr, ! for a failing command, see the testscript package):
//
//	hic ARGS...          runs hic; the script fails if it exits non-zero
//	! hic ARGS...        runs hic; the script fails if it exits zero
//	exit N hic ARGS...   runs hic; the script fails unless it exits N
//	cmp stdout want.txt  compares the last command's stdout with a file
//
// $CATALOG is the repository's catalog (read only), $SCHEMA its schema.
// With -update (go test ./cmd/hic -run TestScript -update), cmp rewrites
// the archive's expected files.
func TestScript(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: false,
		Setup: func(e *testscript.Env) error {
			e.Setenv("CATALOG", filepath.Join(repo, "catalog"))
			e.Setenv("SCHEMA", filepath.Join(repo, "schema"))
			// git must not read the developer's config.
			e.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
			e.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exit": cmdExit,
		},
	})
}

// cmdExit is "exit N PROG ARGS...": run PROG and require exit status N.
func cmdExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exit")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exit N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exit %q: want a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
