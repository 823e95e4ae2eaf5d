package main

// SIGKILL during a failing build and during publish (issue 10): a real hic
// process is killed at points chosen by what it printed or what the
// registry received, never by a timer; afterwards the previously good image
// is still tagged, in the layout and in the registry, and hic verify passes.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/testenv"
)

// killWaitKilled wants cmd to end by SIGKILL.
func killWaitKilled(t *testing.T, cmd *exec.Cmd, seen string) {
	t.Helper()
	killKilled(t, cmd.Wait(), seen)
}

// killKilled wants err (of cmd.Wait) to say the process died by SIGKILL.
func killKilled(t *testing.T, err error, seen string) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hic was not killed mid-run by SIGKILL (it ended first: %v)\n%s", err, seen)
	}
}

func TestSIGKILLKeepsGoodImage(t *testing.T) {
	tmp := t.TempDir()
	hic := filepath.Join(tmp, "hic")
	if b, err := exec.CommandContext(t.Context(), "go", "build", "-o", hic, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	v1cat := filepath.Join(tmp, "catalog-v1")
	bldCopyDir(t, tamperCatalog, v1cat)
	keys := filepath.Join(tmp, "keys")
	e := &tamperEnv{base: &tamperBase{}, Dir: tmp, Catalog: v1cat, Mirror: filepath.Join(tmp, "mirror"), Out: filepath.Join(tmp, "out"),
		Key: filepath.Join(keys, sign.PrivateKeyFile), Pub: filepath.Join(keys, sign.PublicKeyFile)}
	for _, args := range [][]string{{"keygen", "--out", keys}, {"mirror", "--out", e.Mirror, "--scale", "0.02"}} {
		if r := hicCLI(t, nil, append([]string{"-C", e.Catalog}, args...)...); r.Code != 0 {
			t.Fatal(r)
		}
	}
	if r := e.Build(t, "--all"); r.Code != 0 {
		t.Fatal(r)
	}
	good, _ := tamperTags(t, e.OCI())
	goodMirror, goodOut := filepath.Join(tmp, "mirror-good"), filepath.Join(tmp, "out-good")
	bldCopyDir(t, e.Mirror, goodMirror)
	bldCopyDir(t, e.Out, goodOut)

	// verifyTag wants tag to name the same image as in want and verify
	// against the catalog cat.
	verifyTag := func(t *testing.T, oci, cat, tag string, want map[string]string) {
		t.Helper()
		now, _ := tamperTags(t, oci)
		for tg, d := range want {
			if now[tg] != d {
				t.Errorf("tag %s names %q, want the good image %s", tg, now[tg], d)
			}
		}
		ve := *e
		ve.Catalog = cat
		if r := hicCLI(t, nil, "-C", ve.Catalog, "verify", tag, "--layout", oci, "--key", e.Pub); r.Code != 0 {
			t.Errorf("the good image does not verify: %s", r)
		}
	}

	t.Run("failing build", func(t *testing.T) {
		// The mirror's app package now ships a shell: the rebuild fails fs-shell.
		tamperShellPackage(t, e)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, hic, "-C", v1cat, "build", "--all", "--today", tamperToday, "--jobs", "1",
			"--mirrors", e.Mirror, "--out", e.Out, "--key", e.Key)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// With one job, app-alpine (cached) is reported first while the
		// failing app spec has not started or is being built.
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if bldProgressLine.MatchString(sc.Text()) {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, stderr)
		killWaitKilled(t, cmd, strings.Join(seen, "\n"))
		if strings.Contains(strings.Join(seen, "\n"), "app:1-wolfi-runtime") {
			t.Fatalf("the failing spec finished before the kill:\n%s", strings.Join(seen, "\n"))
		}
		if err := store.Validate(e.OCI()); err != nil {
			t.Fatalf("layout invalid after SIGKILL: %v", err)
		}
		verifyTag(t, e.OCI(), v1cat, "app:latest", good)

		// The failing build run to its end still leaves the good image tagged.
		if r := e.Build(t, "--all"); r.Code != exitFindings || !strings.Contains(r.Stderr, "keeps the tags") {
			t.Fatalf("the hostile rebuild: %s", r)
		}
		verifyTag(t, e.OCI(), v1cat, "app:latest", good)
	})

	t.Run("publish", func(t *testing.T) {
		reg := testenv.StartRegistry(t)
		pe := *e
		pe.Mirror, pe.Out = goodMirror, goodOut
		v1oci := filepath.Join(tmp, "oci-v1")
		bldCopyDir(t, pe.OCI(), v1oci)
		for _, prefix := range []string{"hic", "probe"} {
			if r := hicCLI(t, nil, "-C", pe.Catalog, "publish", "--layout", v1oci, reg+"/"+prefix); r.Code != 0 {
				t.Fatal(r)
			}
		}
		// v2 of the catalog: app's environment changes, so its image does.
		v2cat := filepath.Join(tmp, "catalog-v2")
		bldCopyDir(t, v1cat, v2cat)
		f := filepath.Join(v2cat, "app", "app.cue")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(strings.Replace(string(b), `"production"`, `"staging"`, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		pe.Catalog = v2cat
		if r := pe.Build(t, "--all"); r.Code != 0 {
			t.Fatal(r)
		}
		v2, _ := tamperTags(t, pe.OCI())
		if v2["app:latest"] == good["app:latest"] {
			t.Fatal("v2 of app has the same image as v1")
		}
		// How many requests publishing v2 over v1 takes (in another prefix).
		total := killPublishRequests(t, hic, v2cat, pe.OCI(), reg, "probe")

		// Kill points: the registry goes away after k requests (the proxy
		// drops every later one, so hic is stuck retrying), then SIGKILL.
		// Each kill point publishes over v1 in a prefix of its own, so it
		// meets the registry as the probe did.
		for i, k := range []int{total / 4, total / 2, total * 3 / 4, total - 3} {
			t.Run(fmt.Sprintf("after %d of %d requests", k, total), func(t *testing.T) {
				prefix := fmt.Sprintf("kill%d", i)
				if r := hicCLI(t, nil, "-C", pe.Catalog, "publish", "--layout", v1oci, reg+"/"+prefix); r.Code != 0 {
					t.Fatal(r)
				}
				proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{Fraction: -1, DownAfter: k})
				cmd := exec.CommandContext(t.Context(), hic, "-C", v2cat, "publish", "--layout", pe.OCI(), "--attempts", "1000", "--timeout", "5s", proxy+"/"+prefix)
				out, _ := cmd.StdoutPipe()
				cmd.Stderr = cmd.Stdout
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				go io.Copy(io.Discard, out)
				exited := make(chan struct{})
				var waitErr error
				go func() { waitErr = cmd.Wait(); close(exited) }()
				// Kill once the first request after k (dropped) has arrived:
				// hic is then stuck retrying it.
				if !stats.AwaitRequests(t.Context(), k, exited) {
					t.Fatalf("hic publish ended (%v) before its request %d: %s", waitErr, k+1, stats)
				}
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-exited
				killKilled(t, waitErr, stats.String())

				// app:latest names v1 or v2, and whichever it is verifies
				// against the catalog it was built from.
				desc, err := remote.Get(mustRef(t, reg+"/"+prefix+"/app:latest"))
				if err != nil {
					t.Fatal(err)
				}
				cat := v1cat
				switch desc.Digest.String() {
				case good["app:latest"]:
					t.Logf("killed after request %d: app:latest still names v1", k)
				case v2["app:latest"]:
					t.Logf("killed after request %d: app:latest names v2", k)
					cat = v2cat
				default:
					t.Fatalf("app:latest names %s, neither v1 %s nor v2 %s", desc.Digest, good["app:latest"], v2["app:latest"])
				}
				ve := pe
				ve.Catalog = cat
				if r := hicCLI(t, nil, "-C", ve.Catalog, "verify", "app:latest", "--registry", reg+"/"+prefix, "--key", e.Pub); r.Code != 0 {
					t.Errorf("after SIGKILL at request %d, app:latest (%s) does not verify: %s", k, desc.Digest, r)
				}
			})
		}
		// A complete publish then moves the tag to v2, which verifies.
		if r := hicCLI(t, nil, "-C", pe.Catalog, "publish", "--layout", pe.OCI(), reg+"/hic"); r.Code != 0 {
			t.Fatal(r)
		}
		if r := hicCLI(t, nil, "-C", pe.Catalog, "verify", "app:latest", "--registry", reg+"/hic", "--key", e.Pub); r.Code != 0 || !strings.Contains(r.Stdout, v2["app:latest"]) {
			t.Errorf("after a complete publish: %s", r)
		}
	})
}

// killPublishRequests publishes oci to a fresh prefix through a recording
// proxy and returns how many requests that took.
func killPublishRequests(t *testing.T, hic, cat, oci, reg, prefix string) int {
	t.Helper()
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{Fraction: -1})
	if b, err := exec.CommandContext(t.Context(), hic, "-C", cat, "publish", "--layout", oci, proxy+"/"+prefix).CombinedOutput(); err != nil {
		t.Fatalf("probe publish: %v\n%s", err, b)
	}
	if stats.Requests() < 8 {
		t.Fatalf("a whole publish took %d requests", stats.Requests())
	}
	return stats.Requests()
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
