package load_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/load"
)

// SandboxAttacks are the hostile catalogs the loader must refuse: each
// writes its files into a catalog that holds a clean image (app) and says
// which finding (file:line and words of the message) refuses it. The
// tamper suite runs the same table through hic vet.
func sandboxAttacks(t *testing.T) []sandboxAttack {
	return []sandboxAttack{
		{
			name: "embed a symlink to the build machine's environment",
			setup: func(t *testing.T, root string) {
				symlink(t, "/proc/self/environ", filepath.Join(root, "app", "env.txt"))
				write(t, root, "app/leak.cue", "@extern(embed)\n\npackage hic\n\n_leak: _ @embed(file=env.txt, type=text)\nimages: app: env: LEAK: _leak\n")
			},
			want: []string{"app/leak.cue:5:10: catalog-sandbox: @embed(file=env.txt) reads app/env.txt, a symlink to /proc/self/environ, which is outside the catalog root"},
		},
		{
			name: "embed a glob that matches a symlink out of the root",
			setup: func(t *testing.T, root string) {
				symlink(t, "/etc/passwd", filepath.Join(root, "app", "data", "passwd.txt"))
				write(t, root, "app/data/ok.txt", "fine\n")
				write(t, root, "app/leak.cue", "@extern(embed)\n\npackage hic\n\n_files: _ @embed(glob=data/*.txt, type=text)\n")
			},
			want: []string{"app/leak.cue:5:11: catalog-sandbox: @embed(glob=data/*.txt) reads app/data/passwd.txt, a symlink to /etc/passwd"},
		},
		{
			name: "embed through a symlinked directory that leaves the root",
			setup: func(t *testing.T, root string) {
				symlink(t, "/etc", filepath.Join(root, "app", "etc"))
				write(t, root, "app/leak.cue", "@extern(embed)\n\npackage hic\n\n_leak: _ @embed(file=etc/hostname, type=text)\n")
			},
			want: []string{"app/leak.cue:5:10: catalog-sandbox: @embed(file=etc/hostname) reads app/etc/hostname"},
		},
		{
			name: "a .cue file that is a symlink out of the root",
			setup: func(t *testing.T, root string) {
				outside := filepath.Join(t.TempDir(), "evil.cue")
				if err := os.WriteFile(outside, []byte("package hic\n\nimages: app: env: EVIL: \"1\"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				symlink(t, outside, filepath.Join(root, "app", "evil.cue"))
			},
			want: []string{"app/evil.cue:1:1: catalog-sandbox: app/evil.cue is a symlink to " + "", "which is outside the catalog root"},
		},
		{
			name: "a FIFO named x.cue",
			setup: func(t *testing.T, root string) {
				if err := syscall.Mkfifo(filepath.Join(root, "app", "x.cue"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"app/x.cue:1:1: catalog-sandbox: app/x.cue is not a regular file (a named pipe)"},
		},
		{
			name: "a socket named y.cue",
			setup: func(t *testing.T, root string) {
				l, err := net.Listen("unix", filepath.Join(root, "app", "y.cue"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
			},
			want: []string{"app/y.cue:1:1: catalog-sandbox: app/y.cue is not a regular file (a socket)"},
		},
		{
			name: "embed a FIFO",
			setup: func(t *testing.T, root string) {
				if err := syscall.Mkfifo(filepath.Join(root, "app", "pipe.json"), 0o644); err != nil {
					t.Fatal(err)
				}
				write(t, root, "app/leak.cue", "@extern(embed)\n\npackage hic\n\n_p: _ @embed(file=pipe.json)\n")
			},
			want: []string{"app/leak.cue:5:7: catalog-sandbox: @embed(file=pipe.json) reads app/pipe.json, not a regular file (a named pipe)"},
		},
		{
			name: "import a module from a registry",
			setup: func(t *testing.T, root string) {
				write(t, root, "app/imp.cue", "package hic\n\nimport \"example.com/evil@v0\"\n\n_x: evil.x\n")
			},
			want: []string{"app/imp.cue:3:8: catalog-sandbox: import \"example.com/evil@v0\" reaches outside the catalog"},
		},
		{
			// A folder of another package is skipped by the catalog only
			// in testdata/, _*/ or .*/; it would feed the image what
			// neither vet nor the layout rule reads.
			name: "import a package of the catalog's own module from testdata/",
			setup: func(t *testing.T, root string) {
				write(t, root, "testdata/lib/lib.cue", "package lib\n\nenv: {EVIL: \"/tmp/evil.so\"}\n")
				write(t, root, "app/app.cue", strings.Replace(string(readApp(t)), "package hic\n", "package hic\n\nimport \"hic.local/catalog/testdata/lib\"\n\nimages: app: env: lib.env\n", 1))
			},
			want: []string{"app/app.cue:3:8: catalog-sandbox: import \"hic.local/catalog/testdata/lib\" is a package of the catalog's own module hic.local/catalog: a catalog imports only CUE's standard library"},
		},
		{
			name: "import a package of the catalog's own module from _lib/",
			setup: func(t *testing.T, root string) {
				write(t, root, "_lib/lib.cue", "package lib\n\nenv: {EVIL: \"/tmp/evil.so\"}\n")
				write(t, root, "app/app.cue", strings.Replace(string(readApp(t)), "package hic\n", "package hic\n\nimport L \"hic.local/catalog/_lib:lib\"\n\nimages: app: env: L.env\n", 1))
			},
			want: []string{"app/app.cue:3:10: catalog-sandbox: import \"hic.local/catalog/_lib:lib\" is a package of the catalog's own module"},
		},
		{
			name: "cue.mod/module.cue is a symlink out of the root",
			setup: func(t *testing.T, root string) {
				outside := filepath.Join(t.TempDir(), "module.cue")
				if err := os.WriteFile(outside, []byte("module: \"evil.example/x@v0\"\nlanguage: version: \"v0.17.0\"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				symlink(t, outside, filepath.Join(root, "cue.mod", "module.cue"))
			},
			want: []string{"cue.mod/module.cue", "outside the catalog"},
		},
	}
}

type sandboxAttack struct {
	name  string
	setup func(t *testing.T, root string)
	want  []string // substrings of one finding, printed as file:line:col: rule: message
}

func write(t *testing.T, root, rel, src string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func cleanCatalog(t *testing.T) string {
	root := t.TempDir()
	write(t, root, "app/app.cue", string(readApp(t)))
	return root
}

// loadWithin loads the catalog, failing the test if it takes longer than a
// minute: a load that blocks on a FIFO would otherwise hang the test binary.
func loadWithin(t *testing.T, root string) *load.Catalog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type res struct {
		cat *load.Catalog
		err error
	}
	done := make(chan res, 1)
	go func() {
		c, err := load.Load(ctx, root, load.Options{})
		done <- res{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.cat
	case <-ctx.Done():
		t.Fatal("load did not return within a minute: it blocks")
		return nil
	}
}

func render(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Pos.String()+": "+f.Rule+": "+f.Message)
	}
	return out
}

func TestSandboxRefusesAttacks(t *testing.T) {
	for _, tt := range sandboxAttacks(t) {
		t.Run(tt.name, func(t *testing.T) {
			root := cleanCatalog(t)
			tt.setup(t, root)
			cat := loadWithin(t, root)
			got := render(cat.Findings)
			found := false
			for _, g := range got {
				ok := true
				for _, w := range tt.want {
					ok = ok && strings.Contains(g, w)
				}
				found = found || ok
			}
			if !found {
				t.Errorf("no finding with %q; findings:\n%s", tt.want, strings.Join(got, "\n"))
			}
			for _, s := range cat.Specs {
				for k, v := range s.Env {
					if k == "LEAK" || k == "EVIL" || strings.Contains(v, "PATH=") {
						t.Errorf("%s: env %s=%q reached the spec", s.Ref, k, v)
					}
				}
			}
		})
	}
}

// TestSandboxAllowsLinksInside: symlinks that stay inside the root, and
// embeds of regular files, are fine.
func TestSandboxAllowsLinksInside(t *testing.T) {
	root := cleanCatalog(t)
	write(t, root, "shared/motd.txt", "hello")
	symlink(t, "../shared/motd.txt", filepath.Join(root, "app", "motd.txt"))
	write(t, root, "app/app.cue", "@extern(embed)\n\n"+string(readApp(t))+"\n_motd: _ @embed(file=motd.txt, type=text)\nimages: app: env: MOTD: _motd\n")
	cat := loadWithin(t, root)
	if len(cat.Findings) != 0 {
		t.Fatalf("findings: %s", strings.Join(render(cat.Findings), "\n"))
	}
	if len(cat.Specs) == 0 || cat.Specs[0].Env["MOTD"] != "hello" {
		t.Errorf("embedded file did not reach the spec: %+v", cat.Specs)
	}
}
