package compile

import (
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/shlex"

	"github.com/hic-build/hic/compiler/spec"
)

func TestShellJoinRoundTrips(t *testing.T) {
	for _, words := range [][]string{
		{"/usr/sbin/nginx", "-g", "daemon off;"},
		{"/bin/echo", "it's", `"quoted"`, "$HOME", ""},
		{"/usr/bin/app"},
	} {
		got, err := shlex.Split(shellJoin(words))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(words, got); diff != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", words, diff)
		}
	}
}

func TestCompile(t *testing.T) {
	s := &spec.Spec{
		Ref: "nginx:1.29-wolfi-runtime", Image: "nginx", Stream: "1.29", Version: "1.29.3", Distro: "wolfi", Variant: "runtime",
		Repository: "nginx", Tags: []string{"1.29", "1.29.3"}, Platforms: []string{"linux/amd64", "linux/arm64"},
		MainPackage: "nginx=1.29.3-r0", Packages: []string{"wolfi-baselayout", "nginx=1.29.3-r0"},
		Repositories: []string{"https://packages.wolfi.dev/os"}, Keyrings: []string{"https://packages.wolfi.dev/os/wolfi-signing.rsa.pub"},
		User:  spec.User{Name: "nonroot", UID: 65532, GID: 65532, Home: "/home/nonroot"},
		RunAs: spec.RunAs{UID: 65532, Name: "nonroot"}, Entrypoint: []string{"/usr/sbin/nginx"}, Cmd: []string{"-g", "daemon off;"},
		Workdir: "/", Ports: []string{"8080/tcp"}, Paths: []spec.Path{{Path: "/var/cache/nginx", Type: "directory", UID: 65532, GID: 65532, Mode: 0o755}},
		Annotations: map[string]string{"org.opencontainers.image.title": "nginx"},
		Policy:      spec.Policy{Hardened: true, ShellPaths: []string{"/bin/sh"}},
		Exceptions:  []spec.Exception{{Rule: "fs-setuid", Reason: "needs ping"}},
	}
	img, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Config.Entrypoint.Command, "/usr/sbin/nginx"; got != want {
		t.Errorf("entrypoint = %q, want %q", got, want)
	}
	if got, want := img.Config.Cmd, "-g 'daemon off;'"; got != want {
		t.Errorf("cmd = %q, want %q", got, want)
	}
	if got := len(img.Config.Archs); got != 2 {
		t.Errorf("archs = %v", img.Config.Archs)
	}
	if img.Config.Accounts.RunAs != "65532" || !img.Policy.ForbidShell {
		t.Errorf("policy/accounts wrong: %+v %+v", img.Config.Accounts, img.Policy)
	}
	if img.Config.Annotations[SpecRefAnnotation] != s.Ref {
		t.Errorf("annotations lack the spec ref: %v", img.Config.Annotations)
	}
	if _, ok := img.Policy.Waives("fs-setuid"); !ok {
		t.Error("exception not carried into the policy")
	}
	a, _ := Marshal(img)
	b, _ := Marshal(img)
	if string(a) != string(b) {
		t.Error("Marshal is not deterministic")
	}
	s.Platforms = []string{"windows/amd64"}
	if _, err := Compile(s); err == nil {
		t.Error("Compile accepted a non-linux platform")
	}
}

// TestCompilePackagesOnce (review D1 §10): a package the spec lists twice
// (the image names one the base or the dev variant installs) is in the
// compiled configuration once, at its first place; the main package's name
// among the image's packages is left out, the pinned main package
// installing it. The dev variant's busybox stays beside a pinned one: it is
// not the image's.
func TestCompilePackagesOnce(t *testing.T) {
	s := &spec.Spec{Ref: "a:1-wolfi-dev", Platforms: []string{"linux/amd64"}, MainPackage: "a=1-r0",
		Packages: []string{"wolfi-baselayout", "tzdata", "a=1-r0", "tzdata", "a", "busybox", "libx", "busybox", "apk-tools"},
		Policy:   spec.Policy{BasePackages: []string{"wolfi-baselayout", "tzdata"}, DevPackages: []string{"busybox", "apk-tools"}}}
	img, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(img.Config.Contents.Packages, " "), "wolfi-baselayout tzdata a=1-r0 busybox libx apk-tools"; got != want {
		t.Errorf("compiled packages %q, want %q", got, want)
	}
	if len(s.Packages) != 9 {
		t.Errorf("Compile changed the spec's packages: %q", s.Packages)
	}
	s = &spec.Spec{Ref: "busybox:1-wolfi-dev", Platforms: []string{"linux/amd64"}, MainPackage: "busybox=1.37-r0",
		Packages: []string{"wolfi-baselayout", "busybox=1.37-r0", "busybox", "apk-tools"},
		Policy:   spec.Policy{BasePackages: []string{"wolfi-baselayout"}, DevPackages: []string{"busybox", "apk-tools"}}}
	if img, err = Compile(s); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(img.Config.Contents.Packages, " "), "wolfi-baselayout busybox=1.37-r0 busybox apk-tools"; got != want {
		t.Errorf("dev variant of busybox: compiled packages %q, want %q", got, want)
	}
}

// TestArchAgreesWithApko: Arch names architectures as apko's
// types.ParseArchitecture does, which Compile used before it had its own
// Config type.
func TestArchAgreesWithApko(t *testing.T) {
	for _, a := range []string{"amd64", "x86_64", "arm64", "aarch64", "x86", "386", "armhf", "armv7", "arm/v6", "arm/v7",
		"loong64", "loongarch64", "ppc64le", "riscv64", "s390x", "mips", "", "AMD64", "host", "all"} {
		if got, want := Arch(a), string(types.ParseArchitecture(a)); got != want {
			t.Errorf("Arch(%q) = %q, apko's = %q", a, got, want)
		}
	}
}
