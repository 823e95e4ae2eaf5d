package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/testenv"
)

// The script commands beside testscript's own (TestScript lists them).
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exit":       cmdExit,
	"registry":   cmdRegistry,
	"freeport":   cmdFreePort,
	"testlayout": cmdTestLayout,
	"regdigest":  cmdRegDigest,
	"keypair":    cmdKeyPair,
	"keyid":      cmdKeyID,
	"perm":       cmdPerm,
	"within":     cmdWithin,
	"readonly":   cmdReadOnly,
	"lock":       cmdLock,
	"unlock":     cmdUnlock,
}

// scriptTB is the key of the script's testing.TB in its Values.
type scriptTB struct{}

// scriptLocks is the key of the layout locks the script's lock commands
// hold, by directory, in its Values: a map of release functions.
type scriptLocks struct{}

func scriptT(ts *testscript.TestScript) testing.TB {
	return ts.Value(scriptTB{}).(testing.TB)
}

func noNeg(ts *testscript.TestScript, neg bool, cmd string) {
	if neg {
		ts.Fatalf("unsupported: ! %s", cmd)
	}
}

// cmdRegistry is "registry VAR": start a registry process (stopped when
// the script ends) and set $VAR to its host:port.
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "registry")
	if len(args) != 1 {
		ts.Fatalf("usage: registry VAR")
	}
	ts.Setenv(args[0], testenv.StartRegistry(scriptT(ts)))
}

// cmdFreePort is "freeport VAR": set $VAR to 127.0.0.1:PORT, a port
// nothing listens on (a registry that is down).
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "freeport")
	if len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ts.Setenv(args[0], "127.0.0.1:"+strconv.Itoa(testenv.FreePort(scriptT(ts))))
}

// cmdTestLayout is "testlayout DIR VAR [REPO SPEC]": write an OCI layout of
// one random image index tagged hic/demo:1 and hic/demo:latest, and set $VAR
// to the index's digest. With REPO and SPEC, the index is tagged REPO:1 and
// REPO:latest, stored for the spec SPEC (dev.hic.spec.ref), and added to
// the layout DIR holds, if it holds one.
func cmdTestLayout(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "testlayout")
	if len(args) != 2 && len(args) != 4 {
		ts.Fatalf("usage: testlayout DIR VAR [REPO SPEC]")
	}
	repo, spec := "hic/demo", ""
	p, err := layout.FromPath(ts.MkAbs(args[0]))
	if len(args) == 4 {
		repo, spec = args[2], args[3]
	}
	if spec == "" || err != nil {
		p, err = layout.Write(ts.MkAbs(args[0]), empty.Index)
		ts.Check(err)
	}
	idx, err := random.Index(256, 1, 2)
	ts.Check(err)
	for _, tag := range []string{"1", "latest"} {
		ann := map[string]string{publish.AnnotationRefName: repo + ":" + tag}
		if spec != "" {
			ann[publish.AnnotationSpecRef] = spec
		}
		ts.Check(p.AppendIndex(idx, layout.WithAnnotations(ann)))
	}
	d, err := idx.Digest()
	ts.Check(err)
	ts.Setenv(args[1], d.String())
}

// cmdRegDigest is "regdigest REF": print the digest REF has in its
// (plain-HTTP) registry; with !, require that REF is not there.
func cmdRegDigest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: regdigest REF")
	}
	ref, err := name.ParseReference(args[0], name.Insecure)
	ts.Check(err)
	desc, err := remote.Head(ref)
	if neg {
		if err == nil {
			ts.Fatalf("%s is in the registry (%s)", ref, desc.Digest)
		}
		return
	}
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), desc.Digest)
}

// cmdKeyPair is "keypair PRIV PUB": fail unless PUB is the public key of
// PRIV, and print what hic keygen prints for the pair (the paths as given,
// the key id and fingerprint computed from PUB).
func cmdKeyPair(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "keypair")
	if len(args) != 2 {
		ts.Fatalf("usage: keypair PRIV PUB")
	}
	k, err := sign.LoadPrivateKey(ts.MkAbs(args[0]))
	ts.Check(err)
	pk, err := sign.LoadPublicKey(ts.MkAbs(args[1]))
	ts.Check(err)
	if !pk.Equal(&k.PublicKey) {
		ts.Fatalf("%s is not the public key of %s", args[1], args[0])
	}
	id, err := sign.KeyID(pk)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "private key: %s\npublic key:  %s\nkey id:      %s\nfingerprint: sha256:%s\n", args[0], args[1], id[:16], id)
}

// cmdKeyID is "keyid VAR PUB": set $VAR to the key id of the public key
// PUB as hic's messages give it (16 hex digits).
func cmdKeyID(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "keyid")
	if len(args) != 2 {
		ts.Fatalf("usage: keyid VAR PUB")
	}
	pk, err := sign.LoadPublicKey(ts.MkAbs(args[1]))
	ts.Check(err)
	id, err := sign.KeyID(pk)
	ts.Check(err)
	ts.Setenv(args[0], id[:16])
}

// cmdPerm is "perm MODE PATH": fail unless PATH's permission bits are
// MODE, in octal (600).
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "perm")
	if len(args) != 2 {
		ts.Fatalf("usage: perm MODE PATH")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("perm %q: want an octal mode", args[0])
	}
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	if got := fi.Mode().Perm(); got != os.FileMode(want) {
		ts.Fatalf("%s has mode %o, want %o", args[1], got, want)
	}
}

// cmdWithin is "within D CMD ARGS...": run CMD ARGS (the exit command or a
// program, as a script line would) and fail if it takes longer than D.
func cmdWithin(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: within DURATION CMD ARGS...")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		ts.Fatalf("within %q: want a duration", args[0])
	}
	start := time.Now()
	switch {
	case args[1] == "exit":
		cmdExit(ts, neg, args[2:])
	case neg:
		if ts.Exec(args[1], args[2:]...) == nil {
			ts.Fatalf("%s succeeded unexpectedly", args[1])
		}
	default:
		ts.Check(ts.Exec(args[1], args[2:]...))
	}
	if took := time.Since(start); took > d {
		ts.Fatalf("%s took %v, want at most %v", args[1], took.Round(time.Millisecond), d)
	}
}

// cmdReadOnly is "readonly DIR CMD ARGS...": run CMD ARGS (the exit command
// or a program, as a script line would) with DIR read-only. Not as root, by
// taking the write permission of every file and directory under DIR away
// while it runs; as root, whom permissions do not stop, in bubblewrap with
// DIR bound read-only (a read-only file system), as build's tests run images.
func cmdReadOnly(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: readonly DIR CMD ARGS...")
	}
	dir, args := ts.MkAbs(args[0]), args[1:]
	want := "" // N of "exit N" before the program
	if args[0] == "exit" {
		if len(args) < 3 {
			ts.Fatalf("usage: readonly DIR exit N PROG ARGS...")
		}
		want, args = args[1], args[2:]
	}
	if os.Geteuid() == 0 {
		bwrap, err := exec.LookPath("bwrap")
		if err != nil {
			ts.Fatalf("bubblewrap (bwrap) is not installed: run .ci/tools.sh (make tools)")
		}
		args = append([]string{bwrap, "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--ro-bind", dir, dir, "--"}, args...)
	} else {
		restore := map[string]os.FileMode{}
		ts.Check(filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			restore[p] = fi.Mode().Perm()
			return nil
		}))
		for p, m := range restore {
			ts.Check(os.Chmod(p, m&^0o222))
		}
		defer func() {
			for p, m := range restore {
				ts.Check(os.Chmod(p, m))
			}
		}()
	}
	switch {
	case want != "":
		cmdExit(ts, neg, append([]string{want}, args...))
	case neg:
		if ts.Exec(args[0], args[1:]...) == nil {
			ts.Fatalf("%s succeeded unexpectedly", args[0])
		}
	default:
		ts.Check(ts.Exec(args[0], args[1:]...))
	}
}

// cmdLock is "lock shared|exclusive DIR": hold the lock of the layout at
// DIR in the test process, as a reader (store.LockShared) or as a build
// (store.Open) holds it, until "unlock DIR" or the script's end, and set
// $LOCKPID to the test process's pid.
func cmdLock(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "lock")
	if len(args) != 2 || (args[0] != "shared" && args[0] != "exclusive") {
		ts.Fatalf("usage: lock shared|exclusive DIR")
	}
	held := ts.Value(scriptLocks{}).(map[string]func())
	dir := ts.MkAbs(args[1])
	if held[dir] != nil {
		ts.Fatalf("lock: %s is locked already", args[1])
	}
	if args[0] == "shared" {
		l, err := store.LockShared(dir)
		ts.Check(err)
		held[dir] = func() { l.Release() }
	} else {
		s, err := store.Open(context.Background(), dir)
		ts.Check(err)
		held[dir] = func() { s.Close() }
	}
	ts.Defer(func() {
		if release := held[dir]; release != nil {
			release()
		}
	})
	ts.Setenv("LOCKPID", strconv.Itoa(os.Getpid()))
}

// cmdUnlock is "unlock DIR": let go of the lock "lock" took.
func cmdUnlock(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "unlock")
	if len(args) != 1 {
		ts.Fatalf("usage: unlock DIR")
	}
	held := ts.Value(scriptLocks{}).(map[string]func())
	dir := ts.MkAbs(args[0])
	if held[dir] == nil {
		ts.Fatalf("unlock: %s is not locked", args[0])
	}
	held[dir]()
	delete(held, dir)
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
