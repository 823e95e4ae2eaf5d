package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
)

// SyntheticMarker is apkrepo.SyntheticMarker, restated so that smoke (and
// report, which holds smoke's results) links nothing of apko;
// TestSyntheticMarker keeps the two equal.
const SyntheticMarker = "(synthetic hic mirror package)"

// Rule is the rule id of smoke-test findings.
const Rule = "smoke-test"

// Status is a test's outcome.
type Status string

const (
	Passed Status = "passed"
	Failed Status = "failed"
	// NotRun: the test could not run; Reason says why. Never a pass.
	NotRun Status = "not-run"
)

// Result is the outcome of one test on one platform.
type Result struct {
	Name     string   `json:"name"`
	Platform string   `json:"platform"`
	Command  []string `json:"command"`
	Status   Status   `json:"status"`
	// Reason says why a test failed or did not run.
	Reason string `json:"reason,omitempty"`
	// ExitCode is the command's exit status (-1: killed or not started).
	ExitCode int `json:"exitCode"`
	// Output is the command's standard output and error, at most
	// MaxOutput bytes; Truncated is set when it printed more.
	Output    string `json:"output,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	// DurationMs is the run's wall time; Reproducible drops it.
	DurationMs int64 `json:"durationMs,omitempty"`
	// Synthetic is set when the output came from a generated mirror's
	// synthetic executable: the test passed (or failed) on synthetic
	// contents, not on the real program.
	Synthetic bool `json:"synthetic,omitempty"`
}

// Defaults of a Sandbox.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxOutput = 64 << 10
	// MaxTimeout bounds a test's own timeout.
	MaxTimeout = 10 * time.Minute
)

// Sandbox runs tests. The zero value uses bwrap from PATH, DefaultTimeout
// and DefaultMaxOutput.
type Sandbox struct {
	// Bwrap is the bubblewrap binary; empty: "bwrap" from PATH.
	Bwrap string
	// Timeout is a test's time limit when it sets none.
	Timeout time.Duration
	// MaxOutput bounds the output kept (and matched) per test.
	MaxOutput int
	// TempDir is where root filesystems are extracted; empty: os.TempDir().
	TempDir string
	// Trees, if set, makes the root filesystems from layers extracted once
	// each (TempDir is then not used).
	Trees *LayerTrees
}

// Image is a built platform image and how its tests run.
type Image struct {
	Platform string
	Image    v1.Image
	// UID and GID run the tests (the spec's run-as user); Workdir, Env and
	// Home are the image's.
	UID, GID uint32
	Workdir  string
	Env      map[string]string
}

// Run runs tests on every platform image: the platforms the host can
// execute run each test in a fresh sandbox over one extracted root
// filesystem; the others report every test not-run. Results are ordered by
// platform, then as the tests are written.
func (s Sandbox) Run(ctx context.Context, images []Image, tests []compile.Test) []Result {
	if len(tests) == 0 {
		return nil
	}
	var out []Result
	for _, im := range images {
		out = append(out, s.runPlatform(ctx, im, tests)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Platform < out[j].Platform })
	return out
}

func notRun(im Image, tests []compile.Test, reason string) []Result {
	out := make([]Result, 0, len(tests))
	for _, t := range tests {
		out = append(out, Result{Name: t.Name, Platform: im.Platform, Command: t.Command, Status: NotRun, Reason: reason, ExitCode: -1})
	}
	return out
}

// HostPlatform is the platform this machine executes, "linux/amd64".
func HostPlatform() string { return runtime.GOOS + "/" + runtime.GOARCH }

func (s Sandbox) runPlatform(ctx context.Context, im Image, tests []compile.Test) []Result {
	if im.Platform != HostPlatform() {
		return notRun(im, tests, fmt.Sprintf("this host runs %s, not %s", HostPlatform(), im.Platform))
	}
	bwrap := s.Bwrap
	if bwrap == "" {
		bwrap = "bwrap"
	}
	bin, err := exec.LookPath(bwrap)
	if err != nil {
		return notRun(im, tests, fmt.Sprintf("bubblewrap (%s) not found: install it (apt-get install bubblewrap; .ci/tools.sh does)", bwrap))
	}
	asRoot := os.Geteuid() == 0
	dir, remove, err := s.rootfs(ctx, im.Image, asRoot)
	if err != nil {
		return notRun(im, tests, "root filesystem: "+err.Error())
	}
	defer remove()
	out := make([]Result, 0, len(tests))
	for _, t := range tests {
		out = append(out, s.runOne(ctx, bin, dir, asRoot, im, t))
	}
	return out
}

// rootfs writes img's root filesystem into a new directory and returns it
// with the function that removes it.
func (s Sandbox) rootfs(ctx context.Context, img v1.Image, asRoot bool) (string, func(), error) {
	if s.Trees != nil {
		return s.Trees.Rootfs(ctx, img)
	}
	dir, err := os.MkdirTemp(s.TempDir, "hic-smoke-")
	if err != nil {
		return "", nil, err
	}
	remove := func() {
		makeRemovable(dir)
		os.RemoveAll(dir)
	}
	// The sandbox starts as the image's user, who must reach the tree.
	err = os.Chmod(dir, 0o755)
	if err == nil {
		err = Extract(ctx, img, dir, asRoot)
	}
	if err != nil {
		remove()
		return "", nil, err
	}
	return dir, remove, nil
}

// makeRemovable gives the owner write access to every directory, so
// RemoveAll can delete a tree whose image made directories read-only.
func makeRemovable(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
}

// args is the bwrap command line of one test.
func args(rootfs string, im Image, t compile.Test) []string {
	workdir := im.Workdir
	if workdir == "" {
		workdir = "/"
	}
	a := []string{
		"--unshare-all", "--unshare-user", // no network, own pid/ipc/uts/cgroup
		"--die-with-parent", "--new-session",
		"--ro-bind", rootfs, "/",
		"--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
		"--uid", fmt.Sprint(im.UID), "--gid", fmt.Sprint(im.GID),
		"--hostname", "hic-smoke",
		"--chdir", workdir,
		"--clearenv",
		"--json-status-fd", "3",
	}
	keys := make([]string, 0, len(im.Env))
	for k := range im.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if _, ok := im.Env["PATH"]; !ok {
		a = append(a, "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	for _, k := range keys {
		a = append(a, "--setenv", k, im.Env[k])
	}
	return append(append(a, "--"), t.Command...)
}

func (s Sandbox) runOne(ctx context.Context, bwrap, rootfs string, asRoot bool, im Image, t compile.Test) Result {
	r := Result{Name: t.Name, Platform: im.Platform, Command: t.Command, ExitCode: -1}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if t.Timeout != "" {
		d, err := time.ParseDuration(t.Timeout)
		if err != nil || d <= 0 || d > MaxTimeout {
			r.Status, r.Reason = NotRun, fmt.Sprintf("timeout %q: want a duration up to %s (\"10s\")", t.Timeout, MaxTimeout)
			return r
		}
		timeout = d
	}
	max := s.MaxOutput
	if max <= 0 {
		max = DefaultMaxOutput
	}
	if len(t.Command) == 0 {
		r.Status, r.Reason = NotRun, "the test has no command"
		return r
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		r.Status, r.Reason = NotRun, "sandbox: "+err.Error()
		return r
	}
	defer statusR.Close()
	cmd := exec.CommandContext(tctx, bwrap, args(rootfs, im, t)...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	out := &limitedBuffer{max: max}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if asRoot {
		// Start bwrap as the image's user, so files keep their image owners
		// and the test has exactly that user's rights.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: im.UID, Gid: im.GID, NoSetGroups: true}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Start()
	statusW.Close()
	if err != nil {
		r.Status, r.Reason = NotRun, "sandbox: "+err.Error()
		return r
	}
	status := make(chan bwrapStatus, 1)
	go func() { status <- readStatus(statusR) }()
	werr := cmd.Wait()
	st := <-status
	r.DurationMs = time.Since(start).Milliseconds()
	r.Output, r.Truncated = out.String(), out.dropped > 0
	r.Synthetic = strings.Contains(r.Output, SyntheticMarker)
	var exitErr *exec.ExitError
	switch {
	case tctx.Err() == context.DeadlineExceeded:
		r.Status, r.Reason = Failed, fmt.Sprintf("timed out after %s", timeout)
		return r
	case ctx.Err() != nil:
		r.Status, r.Reason = NotRun, "cancelled: "+ctx.Err().Error()
		return r
	case !st.started:
		// bwrap failed before the command started: the sandbox, not the
		// image, is at fault.
		r.Status, r.Reason = NotRun, "sandbox could not start: "+firstLine(r.Output, werr)
		return r
	case werr == nil:
		r.ExitCode = 0
	case errors.As(werr, &exitErr):
		r.ExitCode = exitErr.ExitCode()
	default:
		r.Status, r.Reason = NotRun, "sandbox: "+werr.Error()
		return r
	}
	if st.exited {
		r.ExitCode = st.exitCode
	}
	r.Status, r.Reason = judge(t, r)
	return r
}

// judge compares a finished command with what the test expects.
func judge(t compile.Test, r Result) (Status, string) {
	if r.ExitCode != t.Exit {
		why := fmt.Sprintf("exit status %d, want %d", r.ExitCode, t.Exit)
		if l := firstLine(r.Output, nil); l != "" {
			why += ": " + l
		}
		return Failed, why
	}
	if t.Expect != "" && !strings.Contains(r.Output, t.Expect) {
		got := strings.TrimSpace(r.Output)
		if len(got) > 200 {
			got = got[:200] + "..."
		}
		return Failed, fmt.Sprintf("output does not contain %q; it was %q", t.Expect, got)
	}
	return Passed, ""
}

func firstLine(s string, err error) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" && err != nil {
		return err.Error()
	}
	return s
}

type bwrapStatus struct {
	started  bool
	exited   bool
	exitCode int
}

// readStatus reads bwrap's --json-status-fd stream: {"child-pid": N} once
// the command is started, {"exit-code": N} when it has exited.
func readStatus(f *os.File) bwrapStatus {
	var st bwrapStatus
	dec := json.NewDecoder(f)
	for {
		var m map[string]any
		if dec.Decode(&m) != nil {
			return st
		}
		if _, ok := m["child-pid"]; ok {
			st.started = true
		}
		if c, ok := m["exit-code"].(float64); ok {
			st.exited, st.exitCode = true, int(c)
		}
	}
}

// limitedBuffer keeps the first max bytes written and counts the rest.
type limitedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		n := min(room, len(p))
		b.buf.Write(p[:n])
		b.dropped += int64(len(p) - n)
	} else {
		b.dropped += int64(len(p))
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }

// Findings turns results into findings of ref: a failing error for each
// failed test; a warning for each test the host could have run but did not
// (a missing sandbox is not a pass, and not the image's fault either).
// Platforms the host cannot execute give no finding: their not-run results
// are in the report.
func Findings(ref string, rs []Result) []finding.Finding {
	var fs []finding.Finding
	for _, r := range rs {
		switch {
		case r.Status == Failed:
			fs = append(fs, finding.Finding{Rule: Rule, Severity: finding.Error, Ref: ref,
				Message: fmt.Sprintf("test %s failed on %s: %s: %s", r.Name, r.Platform, strings.Join(r.Command, " "), r.Reason)})
		case r.Status == NotRun && r.Platform == HostPlatform():
			fs = append(fs, finding.Finding{Rule: Rule, Severity: finding.Warning, Ref: ref,
				Message: fmt.Sprintf("test %s did not run on %s: %s", r.Name, r.Platform, r.Reason)})
		}
	}
	return fs
}

// Reproducible returns rs without their durations: what is stored and
// attested with the image, so that a rebuild gives the same bytes.
func Reproducible(rs []Result) []Result {
	if rs == nil {
		return nil
	}
	out := make([]Result, len(rs))
	for i, r := range rs {
		r.DurationMs = 0
		out[i] = r
	}
	return out
}
