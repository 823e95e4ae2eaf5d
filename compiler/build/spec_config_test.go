package build

import (
	"archive/tar"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/resolve"
)

// modesBuild builds modesImage: testImage with paths and a package that carry special
// mode bits, and every config field a spec can set.
func modesBuild(t *testing.T) *Result {
	t.Helper()
	pkgs := testPackages()
	for _, a := range []string{"x86_64", "aarch64"} {
		pkgs = append(pkgs, apkrepo.Package{Name: "spool", Version: "1.0-r0", Arch: a, BuildTime: buildTime, License: "MIT",
			Files: []apkrepo.File{
				{Path: "var/spool/drop", Kind: apkrepo.KindDir, Mode: 0o777 | fs.ModeSticky},
				{Path: "var/spool/group", Kind: apkrepo.KindDir, Mode: 0o2775&0o777 | fs.ModeSetgid},
				{Path: "var/spool/drop/README", Data: []byte("drop files here\n")},
				{Path: "usr/bin/spoolctl", Mode: 0o755 | fs.ModeSetuid, Data: []byte("#!fake setuid helper")},
			}})
	}
	key := newKey(t, "hic-test")
	dir := writeMirror(t, key, pkgs)
	img := modesImage()
	mirrors := []resolve.Mirror{{URL: repoURL, Dir: dir}}
	lock, err := resolve.Resolve(testCtx(t), img, resolve.Options{Mirrors: mirrors, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(testCtx(t), img, lock, Options{Mirrors: mirrors, TempDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func modesImage() compile.Image {
	img := testImage()
	img.Config.Contents.Packages = append(img.Config.Contents.Packages, "spool")
	img.Config.Paths = []compile.PathMutation{
		{Path: "/var/tmp", Type: "directory", Permissions: 0o1777},
		{Path: "/srv/shared", Type: "directory", UID: 65532, GID: 65532, Permissions: 0o2770},
		{Path: "/srv/data", Type: "directory", UID: 65532, GID: 65532, Permissions: 0o750},
	}
	img.Config.Entrypoint = compile.Entrypoint{Command: "/usr/bin/hello --config '/etc/hello/config.json'"}
	img.Config.Cmd = "serve --port 8080"
	img.Config.WorkDir = "/srv/data"
	img.Config.Environment = map[string]string{"HELLO_MODE": "production", "HELLO_GREETING": "hi there"}
	img.Config.Volumes = []string{"/srv/data"}
	img.Config.StopSignal = "SIGQUIT"
	img.Config.Annotations = map[string]string{"org.opencontainers.image.title": "hello", "org.opencontainers.image.version": "1.1.0"}
	img.Ports = []string{"8080/tcp", "9090/udp", "7000/tcp"}
	return img
}

// TestModesAsWritten: the sticky and setgid bits of paths entries and of
// package directories reach the layer's tar headers.
func TestModesAsWritten(t *testing.T) {
	r := modesBuild(t)
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		fsys, err := r.Filesystem(p)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]int64{
			"var/tmp":          0o1777,
			"srv/shared":       0o2770,
			"srv/data":         0o750,
			"var/spool/drop":   0o1777,
			"var/spool/group":  0o2775,
			"usr/bin/spoolctl": 0o4755,
		} {
			fi, err := fs.Lstat(fsys, name)
			if err != nil {
				t.Errorf("%s: %s: %v", p, name, err)
				continue
			}
			h, ok := fi.Sys().(*tar.Header)
			if !ok {
				t.Fatalf("%s: %s: no tar header", p, name)
			}
			if got := h.Mode & 0o7777; got != want {
				t.Errorf("%s: /%s has mode %#o in the layer, want %#o", p, name, got, want)
			}
		}
		// The post-build rule the sticky bit exists for passes on the
		// image's real layers.
		rfs, err := inspect.FromLayers(r.Images[p])
		if err != nil {
			t.Fatal(err)
		}
		fds, err := inspect.Check(t.Context(), inspect.Input{Image: modesImage(), Platform: p, FS: rfs})
		if err != nil {
			t.Fatal(err)
		}
		setuid := false
		for _, f := range fds {
			if f.Rule == inspect.RuleWorldWritable {
				t.Errorf("%s: %s", f.Rule, f.Message)
			}
			setuid = setuid || f.Rule == inspect.RuleSetuid && strings.Contains(f.Message, "spoolctl")
		}
		if !setuid {
			t.Errorf("%s: fs-setuid does not see the package's setuid /usr/bin/spoolctl: %v", p, fds)
		}
	}
}

// TestImageConfigCarriesSpec compares the image config with the compiled
// image field by field.
func TestImageConfigCarriesSpec(t *testing.T) {
	r := modesBuild(t)
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		img := r.Images[p]
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		env := map[string]string{}
		for _, kv := range c.Env {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		type fields struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			WorkingDir   string
			Env          map[string]string
			Volumes      []string
			ExposedPorts []string
			StopSignal   string
			Labels       map[string]string
		}
		keys := func(m map[string]struct{}) []string {
			var out []string
			for k := range m {
				out = append(out, k)
			}
			sort.Strings(out)
			return out
		}
		got := fields{c.User, c.Entrypoint, c.Cmd, c.WorkingDir, map[string]string{"HELLO_MODE": env["HELLO_MODE"], "HELLO_GREETING": env["HELLO_GREETING"]},
			keys(c.Volumes), keys(c.ExposedPorts), c.StopSignal,
			map[string]string{"org.opencontainers.image.title": c.Labels["org.opencontainers.image.title"], "org.opencontainers.image.version": c.Labels["org.opencontainers.image.version"]}}
		want := fields{
			User:         "65532",
			Entrypoint:   []string{"/usr/bin/hello", "--config", "/etc/hello/config.json"},
			Cmd:          []string{"serve", "--port", "8080"},
			WorkingDir:   "/srv/data",
			Env:          map[string]string{"HELLO_MODE": "production", "HELLO_GREETING": "hi there"},
			Volumes:      []string{"/srv/data"},
			ExposedPorts: []string{"7000/tcp", "8080/tcp", "9090/udp"},
			StopSignal:   "SIGQUIT",
			Labels:       map[string]string{"org.opencontainers.image.title": "hello", "org.opencontainers.image.version": "1.1.0"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: image config (-spec +config):\n%s", p, diff)
		}
		var _ v1.Config = c
	}
}
