package pipeline

import (
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hic-build/hic/compiler/report"

	"github.com/chainguard-dev/clog"
	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/store"
)

const (
	testRepoURL = "https://apk.example.test/hic"
	testKeyURL  = "https://apk.example.test/keys/hic-test.rsa.pub"
)

func testPackages() []apkrepo.Package {
	bt := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	var pkgs []apkrepo.Package
	for _, a := range []string{"x86_64", "aarch64"} {
		pkgs = append(pkgs,
			apkrepo.Package{Name: "base-files", Version: "1.0.0-r0", Arch: a, BuildTime: bt, License: "MIT",
				Files: []apkrepo.File{
					{Path: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\n")},
					{Path: "etc/group", Data: []byte("root:x:0:\n")},
					{Path: "tmp", Kind: apkrepo.KindDir, Mode: 0o777 | fs.ModeSticky},
				}},
			apkrepo.Package{Name: "busybox", Version: "1.36.1-r0", Arch: a, Depends: []string{"base-files"}, BuildTime: bt, License: "GPL-2.0-only",
				Files: []apkrepo.File{
					{Path: "bin/busybox", Mode: 0o755, Data: []byte("#!fake busybox " + a)},
					{Path: "bin/sh", Kind: apkrepo.KindSymlink, Target: "/bin/busybox"},
				}},
			apkrepo.Package{Name: "hello", Version: "1.1.0-r0", Arch: a, Depends: []string{"base-files"}, BuildTime: bt, License: "Apache-2.0",
				Files: []apkrepo.File{{Path: "usr/bin/hello", Mode: 0o755, Size: 16 << 10, Seed: 7}}},
		)
	}
	return pkgs
}

func testSpec(variant string, packages ...string) compile.Image {
	gid := uint32(65532)
	return compile.Image{
		Ref:        "hello:1-test-" + variant,
		Repository: "hello",
		Tags:       []string{"1-" + variant},
		Config: compile.Config{
			Contents:   compile.Contents{Repositories: []string{testRepoURL}, Keyring: []string{testKeyURL}, Packages: packages},
			Entrypoint: compile.Entrypoint{Command: "/usr/bin/hello"},
			Accounts: compile.Accounts{
				RunAs:  "65532",
				Users:  []compile.User{{UserName: "nonroot", UID: 65532, GID: &gid, HomeDir: "/home/nonroot"}},
				Groups: []compile.Group{{GroupName: "nonroot", GID: 65532}},
			},
			Archs: []string{"amd64", "arm64"},
		},
		Policy: compile.Policy{
			RunAsUID: 65532, RunAsUser: "nonroot",
			ForbidShell: true, ShellPaths: []string{"/bin/sh", "/bin/busybox"},
			ForbidPackageManager: true, PackageManagerPaths: []string{"/sbin/apk"},
		},
	}
}

// TestApkoBuilderEndToEnd builds real images through compiler/resolve and
// compiler/build (apko) from a generated, signed local repository, twice.
func TestApkoBuilderEndToEnd(t *testing.T) {
	ctx := clog.WithLogger(t.Context(), clog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	key, err := apkrepo.GenerateKey("hic-test")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := testPackages()
	mirror := filepath.Join(t.TempDir(), "mirror")
	if _, err := apkrepo.WriteRepository(ctx, mirror, key, pkgs); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(out, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opts := Options{
		Store:      s,
		Builder:    ApkoBuilder{Mirrors: []resolve.Mirror{{URL: testRepoURL, Dir: mirror}}, CacheDir: t.TempDir(), TempDir: t.TempDir()},
		Jobs:       2,
		HicVersion: "test",
		ReportPath: filepath.Join(out, "report.json"),
	}
	imgs := []compile.Image{testSpec("runtime", "hello", "base-files"), testSpec("shell", "hello", "busybox")}

	r, err := Run(ctx, imgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The shell image fails fs-shell: stored untagged, reported failed.
	for i, want := range []string{report.StatusBuilt, report.StatusFailed} {
		if sp := r.Specs[i]; sp.Status != want || (want == report.StatusFailed && sp.RejectedDigest == "") {
			t.Fatalf("%s: %s %s, want %s", sp.Ref, sp.Status, sp.Error, want)
		}
	}
	rules := func(sp report.SpecReport) []string {
		var out []string
		for _, f := range sp.Findings {
			out = append(out, f.Rule+" "+f.Message)
		}
		return out
	}
	if diff := cmp.Diff([]string(nil), rules(r.Specs[0])); diff != "" {
		t.Errorf("runtime image findings (-want +got):\n%s", diff)
	}
	wantShell := []string{
		"fs-shell linux/amd64: shell binary /bin/busybox (mode 0755) is present",
		"fs-shell linux/amd64: shell binary /bin/sh (symlink to /bin/busybox, mode 0755) is present",
		"fs-shell linux/arm64: shell binary /bin/busybox (mode 0755) is present",
		"fs-shell linux/arm64: shell binary /bin/sh (symlink to /bin/busybox, mode 0755) is present",
	}
	if diff := cmp.Diff(wantShell, rules(r.Specs[1])); diff != "" {
		t.Errorf("shell image findings (-want +got):\n%s", diff)
	}
	if !r.Failed() {
		t.Error("report not failed despite fs-shell findings")
	}
	if err := store.Validate(s.Dir()); err != nil {
		t.Fatal(err)
	}

	r2, err := Run(ctx, imgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sp := r2.Specs[0]; sp.Status != report.StatusCached || sp.ImageDigest != r.Specs[0].ImageDigest {
		t.Errorf("rerun %s: %s %s, want cached %s", sp.Ref, sp.Status, sp.ImageDigest, r.Specs[0].ImageDigest)
	}
	if sp := r2.Specs[1]; sp.Status != report.StatusFailed || sp.RejectedDigest != r.Specs[1].RejectedDigest {
		t.Errorf("rerun %s: %s rejected %s, want failed again with the same image %s", sp.Ref, sp.Status, sp.RejectedDigest, r.Specs[1].RejectedDigest)
	}
	if !strings.HasPrefix(r.Specs[0].InputDigest, "sha256:") {
		t.Errorf("input digest %q", r.Specs[0].InputDigest)
	}
}
