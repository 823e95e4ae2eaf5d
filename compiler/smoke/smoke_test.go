package smoke

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
)

// probeImage is an image with the probe program at /usr/bin/probe and a
// synthetic package's executable at /usr/bin/synth, both owned by root.
func probeImage(t *testing.T) v1.Image {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", exe, "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	probe, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	synth, err := apkrepo.VersionProgram(map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[strings.TrimPrefix(HostPlatform(), "linux/")], "synth", "4.5.6-r1")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"etc/", "usr/", "usr/bin/", "home/", "home/nonroot/"} {
		h := &tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}
		if d == "home/nonroot/" {
			h.Uid, h.Gid, h.Mode = 65532, 65532, 0o700
		}
		tw.WriteHeader(h)
	}
	add := func(name string, mode int64, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(b))})
		tw.Write(b)
	}
	add("usr/bin/probe", 0o755, probe)
	add("usr/bin/synth", 0o755, synth)
	add("etc/secret", 0o600, []byte("root only"))
	tw.WriteHeader(&tar.Header{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"})
	tw.WriteHeader(&tar.Header{Name: "../../escape", Typeflag: tar.TypeReg, Mode: 0o644})
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestRun(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Fatal("bwrap not found: .ci/tools.sh installs bubblewrap")
	}
	img := probeImage(t)
	// A listener on the host: reachable from here, not from the sandbox.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if c, err := net.Dial("tcp", ln.Addr().String()); err != nil {
		t.Fatalf("the host cannot reach its own listener: %v", err)
	} else {
		c.Close()
	}

	tests := []compile.Test{
		{Name: "version", Command: []string{"/usr/bin/probe", "--version"}, Expect: "1.2.3"},
		{Name: "wrong-version", Command: []string{"/usr/bin/probe", "--version"}, Expect: "9.9.9"},
		{Name: "user", Command: []string{"/bin/probe", "id"}, Expect: "uid=65532 gid=65532"},
		{Name: "network", Command: []string{"/usr/bin/probe", "net", ln.Addr().String()}, Expect: "net: connected"},
		{Name: "write-root", Command: []string{"/usr/bin/probe", "write", "/usr/bin/x"}, Expect: "write: ok"},
		{Name: "write-tmp", Command: []string{"/usr/bin/probe", "write", "/tmp/x"}, Expect: "write: ok"},
		{Name: "write-home", Command: []string{"/usr/bin/probe", "write", "/home/nonroot/x"}, Exit: 1},
		{Name: "read-secret", Command: []string{"/usr/bin/probe", "read", "/etc/secret"}, Expect: "read: 9 bytes"},
		{Name: "env", Command: []string{"/usr/bin/probe", "env"}, Expect: "GREETING=hi"},
		{Name: "exit-code", Command: []string{"/usr/bin/probe", "exit"}, Exit: 3, Expect: "exiting 3"},
		{Name: "timeout", Command: []string{"/usr/bin/probe", "sleep"}, Timeout: "500ms"},
		{Name: "spam", Command: []string{"/usr/bin/probe", "spam"}, Timeout: "1s"},
		{Name: "missing", Command: []string{"/usr/bin/nothere"}},
		{Name: "synthetic", Command: []string{"/usr/bin/synth", "--version"}, Expect: "4.5.6"},
		{Name: "bad-timeout", Command: []string{"/usr/bin/probe", "--version"}, Timeout: "forever"},
	}
	// Root filesystems extracted per image, and made from layer trees.
	for _, withTrees := range []bool{false, true} {
		t.Run(map[bool]string{false: "extract", true: "trees"}[withTrees], func(t *testing.T) {
			sb := Sandbox{MaxOutput: 4096}
			if withTrees {
				// Under os.TempDir, as hic makes them: the test user must
				// reach the root filesystem (t.TempDir is the runner's only).
				trees := NewLayerTrees("", os.Geteuid() == 0, 0)
				defer trees.Close()
				sb.Trees = trees
			}
			images := []Image{
				{Platform: HostPlatform(), Image: img, UID: 65532, GID: 65532, Env: map[string]string{"GREETING": "hi"}},
				{Platform: "linux/s390x", Image: img, UID: 65532, GID: 65532},
			}
			rs := sb.Run(context.Background(), images, tests)
			got := map[string]Result{}
			for _, r := range rs {
				if r.Platform == HostPlatform() {
					got[r.Name] = r
				} else if r.Status != NotRun || !strings.Contains(r.Reason, "linux/s390x") {
					t.Errorf("%s on %s: %s (%s), want not-run", r.Name, r.Platform, r.Status, r.Reason)
				}
			}
			want := map[string]Status{
				"version": Passed, "wrong-version": Failed, "user": Passed, "network": Failed,
				"write-root": Failed, "write-tmp": Passed, "write-home": Passed, "read-secret": Failed,
				"env": Passed, "exit-code": Passed, "timeout": Failed, "spam": Failed, "missing": Failed,
				"synthetic": Passed, "bad-timeout": NotRun,
			}
			if os.Geteuid() != 0 {
				// Without root the files are not chowned: the test user owns them.
				want["read-secret"] = Passed
			}
			for name, st := range want {
				r := got[name]
				if r.Status != st {
					t.Errorf("%s: %s (%s; output %q), want %s", name, r.Status, r.Reason, r.Output, st)
				}
			}
			if r := got["wrong-version"]; !strings.Contains(r.Reason, `output does not contain "9.9.9"`) || !strings.Contains(r.Reason, "probe 1.2.3") {
				t.Errorf("wrong-version reason: %q", r.Reason)
			}
			if r := got["network"]; !strings.Contains(r.Output, "net: ") || strings.Contains(r.Output, "connected") {
				t.Errorf("network output: %q", r.Output)
			}
			if r := got["write-root"]; !strings.Contains(r.Output, "read-only file system") {
				t.Errorf("write-root output: %q", r.Output)
			}
			if r := got["timeout"]; !strings.Contains(r.Reason, "timed out after 500ms") {
				t.Errorf("timeout reason: %q", r.Reason)
			}
			if r := got["spam"]; len(r.Output) != 4096 || !r.Truncated {
				t.Errorf("spam: kept %d bytes (truncated %v), want 4096", len(r.Output), r.Truncated)
			}
			if r := got["env"]; strings.Contains(r.Output, "HOME=/root") || !strings.Contains(r.Output, "PATH=") {
				t.Errorf("env leaks the host's or lacks PATH: %q", r.Output)
			}
			if r := got["synthetic"]; !r.Synthetic || got["version"].Synthetic {
				t.Errorf("synthetic flags: synth %v, probe %v", r.Synthetic, got["version"].Synthetic)
			}
			if _, err := os.Stat(filepath.Join(os.TempDir(), "escape")); err == nil {
				t.Errorf("a ../../ entry was written outside the root filesystem")
			}

			fs := Findings("x:1-wolfi-runtime", rs)
			var failing, warnings int
			for _, f := range fs {
				if f.Rule != Rule || f.Ref != "x:1-wolfi-runtime" {
					t.Errorf("finding %+v", f)
				}
				switch f.Severity {
				case finding.Error:
					failing++
				case finding.Warning:
					warnings++
				}
			}
			nFailed := 0
			for _, st := range want {
				if st == Failed {
					nFailed++
				}
			}
			if failing != nFailed || warnings != 1 {
				t.Errorf("findings: %d failing, %d warnings; want %d and 1 (bad-timeout)", failing, warnings, nFailed)
			}
		})
	}
}

func TestRunWithoutBwrap(t *testing.T) {
	rs := Sandbox{Bwrap: "/nonexistent/bwrap"}.Run(context.Background(),
		[]Image{{Platform: HostPlatform(), Image: empty.Image}}, []compile.Test{{Name: "v", Command: []string{"/x"}}})
	if len(rs) != 1 || rs[0].Status != NotRun || !strings.Contains(rs[0].Reason, "bubblewrap") {
		t.Fatalf("without bwrap: %+v, want not-run naming bubblewrap", rs)
	}
	if fs := Findings("x", rs); len(fs) != 1 || fs[0].Failing() || fs[0].Severity != finding.Warning {
		t.Errorf("a test that could not run is a warning, never a pass nor silent: %+v", fs)
	}
}

func TestSyntheticMarker(t *testing.T) {
	if SyntheticMarker != apkrepo.SyntheticMarker {
		t.Errorf("SyntheticMarker %q, apkrepo says %q", SyntheticMarker, apkrepo.SyntheticMarker)
	}
}
