package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary run as the hic command of the script tests:
// each script runs the real CLI as a process in its own work directory, with
// a clean environment (no HIC_* variables, no developer git config).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hic": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
	})
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
