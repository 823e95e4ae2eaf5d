package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	envCrashDir = "HIC_STORE_CRASH_CHILD_DIR"
	envCrashN   = "HIC_STORE_CRASH_CHILD_N"
)

// TestMain turns the test binary into the crash test's child process when
// envCrashDir is set: it writes many images into the store, printing one line
// per committed Put, until it is killed or has written envCrashN images.
func TestMain(m *testing.M) {
	if dir := os.Getenv(envCrashDir); dir != "" {
		n, _ := strconv.Atoi(os.Getenv(envCrashN))
		if err := crashChild(dir, n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashChild(dir string, n int) error {
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		return err
	}
	defer s.Close()
	for i := range n {
		idx, err := random.Index(32<<10, 3, 2)
		if err != nil {
			return err
		}
		spec := fmt.Sprintf("img%02d:1-wolfi-runtime", i%40) // later rounds replace earlier specs
		e := Entry{SpecRef: spec, Refs: []string{fmt.Sprintf("img%02d:1", i%40), fmt.Sprintf("img%02d:latest", i%40)}, InputDigest: fmt.Sprintf("in-%d", i)}
		h, _ := idx.Digest()
		raw, _ := idx.RawManifest()
		sbom, err := NewArtifact(Artifact{ArtifactType: "application/spdx+json", MediaType: "application/spdx+json",
			Subject: descriptorOf(h, raw), Data: []byte(fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","name":%q}`, spec))})
		if err != nil {
			return err
		}
		if _, err := s.Put(ctx, e, idx, sbom); err != nil {
			return err
		}
		fmt.Printf("put %d\n", i)
	}
	return nil
}

func startChild(t *testing.T, dir string, n int) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashN+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}

func TestSecondProcessFailsFastNamingHolder(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashN+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second process got the lock:\n%s", out)
	}
	want := fmt.Sprintf("in use by another hic process (pid %d)", os.Getpid())
	if !strings.Contains(string(out), want) {
		t.Errorf("second process said %q, want it to contain %q", out, want)
	}
}

func TestSIGKILLMidWriteLeavesValidLayout(t *testing.T) {
	dir := t.TempDir()
	// Kill the writer at different points: after 1, 4, 9, ... committed Puts,
	// while it is in the middle of writing the next one.
	for round, after := range []int{1, 4, 9, 15, 22} {
		cmd, lines := startChild(t, dir, 10000)
		for seen := 0; seen < after && lines.Scan(); seen++ {
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die by SIGKILL: %v", round, err)
		}
		if err := Validate(dir); err != nil {
			t.Fatalf("round %d: layout invalid after SIGKILL: %v", round, err)
		}
	}

	// A rerun takes the lock the killed process held and completes.
	cmd, lines := startChild(t, dir, 45)
	count := 0
	for lines.Scan() {
		count++
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rerun failed: %v", err)
	}
	if count != 45 {
		t.Errorf("rerun committed %d puts, want 45", count)
	}
	if err := Validate(dir); err != nil {
		t.Fatalf("layout invalid after rerun: %v", err)
	}
	s := openT(t, dir)
	if got := len(s.Records()); got != 40 {
		t.Errorf("store lists %d specs, want 40", got)
	}
	if _, ok := s.Has("in-44"); !ok {
		t.Error("last image of the rerun not found by input digest")
	}
	if ents, err := os.ReadDir(dir + "/" + tmpDirName); err != nil || len(ents) != 0 {
		t.Errorf("temp dir after reopen: %d entries, %v; want empty", len(ents), err)
	}
}

func descriptorOf(h v1.Hash, raw []byte) v1.Descriptor {
	return v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw))}
}
