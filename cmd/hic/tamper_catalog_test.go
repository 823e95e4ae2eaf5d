package main

// Tamper suite: a hostile catalog (issue 10, "the catalog is a sandbox"):
// specs that try to copy the build machine's files into an image, write
// outside the image's tree, or hang the build. hic build refuses each
// before building anything, so every good image keeps its tags.

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func init() { tamperRegister("catalog", tamperCatalogCases) }

func tamperCatalogCases() []tamperCase {
	build := func(t *testing.T, e *tamperEnv) cliRun { return e.Build(t, "--all") }
	write := func(t *testing.T, e *tamperEnv, rel, src string) {
		t.Helper()
		p := filepath.Join(e.Catalog, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(t *testing.T, e *tamperEnv, target, rel string) {
		t.Helper()
		p := filepath.Join(e.Catalog, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	// field adds one field to the app image, at the end of its file (line
	// 21: the file has 19 lines, then a blank one): a second file in app/
	// would break the layout and be refused before the field is judged.
	field := func(src string) func(t *testing.T, e *tamperEnv) {
		return func(t *testing.T, e *tamperEnv) {
			t.Helper()
			p := filepath.Join(e.Catalog, "app", "app.cue")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, append(b, "\nimages: app: "+src+"\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return []tamperCase{
		{
			Name: "catalog: @embed of a symlink to the build machine's environment",
			Attack: func(t *testing.T, e *tamperEnv) {
				link(t, e, "/proc/self/environ", "app/env.txt")
				write(t, e, "app/leak.cue", "@extern(embed)\n\npackage hic\n\n_leak: _ @embed(file=env.txt, type=text)\nimages: app: env: LEAK: _leak\n")
			},
			Detect: build,
			Want:   []string{"app/leak.cue:5:10", "catalog-sandbox", "app/env.txt", "/proc/self/environ"},
		},
		{
			Name: "catalog: @embed glob matching a symlink to /etc/passwd",
			Attack: func(t *testing.T, e *tamperEnv) {
				write(t, e, "app/data/ok.txt", "fine")
				link(t, e, "/etc/passwd", "app/data/passwd.txt")
				write(t, e, "app/leak.cue", "@extern(embed)\n\npackage hic\n\n_f: _ @embed(glob=data/*.txt, type=text)\n")
			},
			Detect: build,
			Want:   []string{"app/leak.cue:5:7", "catalog-sandbox", "app/data/passwd.txt", "/etc/passwd"},
		},
		{
			Name: "catalog: @embed through a symlinked directory out of the root",
			Attack: func(t *testing.T, e *tamperEnv) {
				link(t, e, "/etc", "app/etc")
				write(t, e, "app/leak.cue", "@extern(embed)\n\npackage hic\n\n_h: _ @embed(file=etc/hostname, type=text)\nimages: app: env: HOST: _h\n")
			},
			Detect: build,
			Want:   []string{"app/leak.cue:5:7", "catalog-sandbox", "app/etc/hostname"},
		},
		{
			Name: "catalog: a spec file that is a symlink out of the root",
			Attack: func(t *testing.T, e *tamperEnv) {
				outside := filepath.Join(e.Dir, "evil.cue")
				if err := os.WriteFile(outside, []byte("package hic\n\nimages: app: env: EVIL: \"1\"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				link(t, e, outside, "app/evil.cue")
			},
			Detect: build,
			Want:   []string{"app/evil.cue:1:1", "catalog-sandbox", "outside the catalog root"},
		},
		{
			Name: "catalog: a FIFO named x.cue (must not hang)",
			Attack: func(t *testing.T, e *tamperEnv) {
				if err := syscall.Mkfifo(filepath.Join(e.Catalog, "app", "x.cue"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			Detect: build,
			Want:   []string{"app/x.cue:1:1", "catalog-sandbox", "named pipe"},
		},
		{
			Name: "catalog: a socket named y.cue",
			Attack: func(t *testing.T, e *tamperEnv) {
				// A socket path is limited to ~108 bytes: listen from inside
				// the folder, by a relative name.
				wd, err := os.Getwd()
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Chdir(filepath.Join(e.Catalog, "app")); err != nil {
					t.Fatal(err)
				}
				l, err := net.Listen("unix", "y.cue")
				os.Chdir(wd)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
			},
			Detect: build,
			Want:   []string{"app/y.cue:1:1", "catalog-sandbox", "socket"},
		},
		{
			Name: "catalog: import of a CUE module from a registry",
			Attack: func(t *testing.T, e *tamperEnv) {
				write(t, e, "app/imp.cue", "package hic\n\nimport \"evil.example/x@v0\"\n\n_x: x.v\n")
			},
			Detect: build,
			Want:   []string{"app/imp.cue:3:8", "catalog-sandbox", "evil.example/x@v0"},
		},
		{
			// A package of the catalog's own module lies where no image
			// folder is (testdata/, _*/, .*/): vet and the layout rule
			// would never read what it gives the image.
			Name: "catalog: import of a package of the catalog's own module",
			Attack: func(t *testing.T, e *tamperEnv) {
				write(t, e, "testdata/lib/lib.cue", "package lib\n\nenv: {LD_PRELOAD: \"/tmp/evil.so\"}\n")
				p := filepath.Join(e.Catalog, "app", "app.cue")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				src := strings.Replace(string(b), "package hic\n", "package hic\n\nimport \"hic.dev/tampertest/testdata/lib\"\n", 1) + "\nimages: app: env: lib.env\n"
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			Detect: build,
			Want:   []string{"app/app.cue:3:8", "catalog-sandbox", "hic.dev/tampertest/testdata/lib", "catalog's own module"},
		},
		{
			Name: "catalog: cue.mod/module.cue swapped for a symlink out of the root",
			Attack: func(t *testing.T, e *tamperEnv) {
				outside := filepath.Join(e.Dir, "module.cue")
				if err := os.WriteFile(outside, []byte("module: \"evil.example/m@v0\"\nlanguage: version: \"v0.17.0\"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				mod := filepath.Join(e.Catalog, "cue.mod", "module.cue")
				if err := os.Remove(mod); err != nil {
					t.Fatal(err)
				}
				link(t, e, outside, "cue.mod/module.cue")
			},
			Detect: build,
			Want:   []string{"cue.mod/module.cue", "catalog-sandbox", "outside the catalog root"},
		},
		{
			Name:   "catalog: paths entry climbing out with ..",
			Attack: field(`paths: [{path: "/../../tmp/x"}]`),
			Detect: build,
			Want:   []string{"app/app.cue:21:23", "clean-paths", `"/../../tmp/x"`},
		},
		{
			Name: "catalog: workdir climbing out with ..",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperReplace(t, e, "app/app.cue", `workdir: "/srv"`, `workdir: "/../../tmp"`)
			},
			Detect: build,
			Want:   []string{"app/app.cue:17:2", "clean-paths", `workdir "/../../tmp"`},
		},
		{
			Name:   "catalog: volume climbing out with ..",
			Attack: field(`volumes: ["/srv/../../etc"]`),
			Detect: build,
			Want:   []string{"app/app.cue:21:", "clean-paths", `volume "/srv/../../etc"`},
		},
		{
			Name: "catalog: entrypoint with .. and a NUL byte",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperReplace(t, e, "app/app.cue", `["/usr/bin/app"]`, `["/usr/bin/../../bin/sh\u0000"]`)
			},
			Detect: build,
			Want:   []string{"app/app.cue:14", "clean-paths", "entrypoint"},
		},
		{
			Name: "catalog: env value with a NUL byte",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperReplace(t, e, "app/app.cue", `"production"`, `"prod\u0000LD_PRELOAD=/tmp/x.so"`)
			},
			Detect: build,
			Want:   []string{"app/app.cue:16", "env-values", "APP_MODE", "U+0000"},
		},
		{
			Name: "catalog: env value with a newline",
			Attack: func(t *testing.T, e *tamperEnv) {
				tamperReplace(t, e, "app/app.cue", `"production"`, `"production\nPATH=/tmp"`)
			},
			Detect: build,
			Want:   []string{"app/app.cue:16", "env-values", "APP_MODE", "U+000A"},
		},
	}
}

// tamperReplace replaces old with new in a catalog file, failing if old is
// not there.
func tamperReplace(t *testing.T, e *tamperEnv, rel, old, new string) {
	t.Helper()
	p := filepath.Join(e.Catalog, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, old) {
		t.Fatalf("%s does not contain %q", rel, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(s, old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
