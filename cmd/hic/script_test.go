package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
// and the set-up and checks only Go can do (scriptCmds):
//
//	registry VAR          starts a registry process; $VAR is its host:port
//	freeport VAR          $VAR is a 127.0.0.1:PORT nothing listens on
//	testlayout DIR VAR [REPO SPEC]  writes an OCI layout of one random index
//	                      tagged hic/demo:1 and hic/demo:latest; $VAR is its
//	                      digest; with REPO SPEC, tagged REPO:1 and REPO:latest
//	                      for the spec SPEC, added to DIR's layout
//	regdigest REF         prints the digest of REF in a registry
//	keypair PRIV PUB      prints the lines hic keygen prints for the pair,
//	                      failing unless PUB is PRIV's public key
//	perm MODE PATH        fails unless PATH's permission bits are MODE (octal)
//	within D CMD ARGS...  runs CMD (exit or a program), failing if it takes
//	                      longer than the duration D
//	readonly DIR CMD ARGS...  runs CMD (exit or a program) with DIR
//	                      read-only (as root: bound read-only by bwrap)
//	lock shared|exclusive DIR  holds the lock of the layout DIR in the test
//	                      process, as a reader or as a build does, until
//	                      unlock DIR or the script's end; $LOCKPID is its pid
//
// $CATALOG is the repository's catalog (read only), $SCHEMA its schema,
// $TESTDATA this package's testdata (read only).
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
			e.Setenv("TESTDATA", filepath.Join(repo, "cmd", "hic", "testdata"))
			// The script's own test, for the set-up of compiler/testenv
			// (testscript runs each script as a subtest of a *testing.T).
			tb, ok := e.T().(testing.TB)
			if !ok {
				return fmt.Errorf("testscript's T is a %T, not a testing.TB", e.T())
			}
			e.Values[scriptTB{}] = tb
			e.Values[scriptLocks{}] = map[string]func(){}
			// git must not read the developer's config.
			e.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
			e.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			return nil
		},
		Cmds: scriptCmds,
	})
}
