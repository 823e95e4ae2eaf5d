package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// cliRun is what one run of hic did.
type cliRun struct {
	Args   []string
	Code   int
	Stdout string
	Stderr string
}

// hicCLI runs hic in-process, as main does, with env as its environment
// (nil: an empty one) and an empty stdin, and returns what it did. It is the
// one way the Go tests drive the CLI, for tests whose set-up or checks need
// Go (the tamper suite, builds whose outputs are read back as Go values).
// A check of what a user sees (exit code, messages, files written) belongs
// in a script test (testdata/script, TestScript).
func hicCLI(t testing.TB, env map[string]string, args ...string) cliRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return cliRun{Args: args, Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// must fails the test unless the run exited with want, and returns r.
func (r cliRun) must(t testing.TB, want int) cliRun {
	t.Helper()
	if r.Code != want {
		t.Fatalf("%s\nwant exit %d", r, want)
	}
	return r
}

// output is the run's stdout and stderr.
func (r cliRun) output() string { return r.Stdout + r.Stderr }

func (r cliRun) String() string {
	return fmt.Sprintf("hic %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}
