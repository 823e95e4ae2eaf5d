package universe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMelange(t *testing.T) {
	data, err := os.ReadFile("testdata/melange/web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := ParseMelange(data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Package{}
	var names []string
	for _, p := range pkgs {
		got[p.Name] = p
		names = append(names, p.Name)
	}
	if want := "web-1.4 web-1.4-ctl web-1.4-mod-gzip web-1.4-mod-tls"; strings.Join(names, " ") != want {
		t.Fatalf("packages %v, want %s", names, want)
	}
	main := got["web-1.4"]
	if v := strings.Join(main.Versions, ","); v != "1.4.2-r3" {
		t.Errorf("version %s, want 1.4.2-r3 (version-rEPOCH)", v)
	}
	if a := strings.Join(main.Archs, ","); a != "x86_64" {
		t.Errorf("archs %s, want x86_64", a)
	}
	if d := strings.Join(main.Depends, ","); d != "so:libc.so.6,web-config" {
		t.Errorf("depends %s", d)
	}
	// webd from a var, webcheck from go/build, webstat moved into the bin
	// directory; webctl moved to -ctl; $i skipped.
	if p := strings.Join(main.Provides, ","); p != "cmd:webcheck,cmd:webd,cmd:webstat,web=1.4.2-r3" {
		t.Errorf("provides %s", p)
	}
	if !main.Unverified {
		t.Error("inferred cmd: provides must mark the package unverified")
	}
	ctl := got["web-1.4-ctl"]
	if ctl.Origin != "web-1.4" || strings.Join(ctl.Provides, ",") != "cmd:webctl" || !ctl.Unverified {
		t.Errorf("ctl %+v", ctl)
	}
	mod := got["web-1.4-mod-tls"]
	if mod.Origin != "web-1.4" || strings.Join(mod.Depends, ",") != "web-1.4" || mod.Unverified || len(mod.Provides) != 0 {
		t.Errorf("mod %+v", mod)
	}
	if _, err := ParseMelange([]byte("package: {name: x}\n")); err == nil {
		t.Error("a file without a version parsed")
	}
}

func TestImportWolfiGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: ", err)
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-05-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-05-01T00:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write("old.yaml", "package:\n  name: old\n  version: 2.0.0\n  epoch: 1\n")
	write("keep.yaml", "package:\n  name: keep\n  version: 1.0.0\n  epoch: 0\n")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	git("rm", "-q", "old.yaml")
	git("commit", "-q", "-m", "two")
	u, err := ImportWolfi(context.Background(), filepath.Join(dir, ".git"), "HEAD", WolfiOptions{Removed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Packages) != 2 || u.Sources[0].Date != "2026-05-01" || len(u.Sources[0].Commit) != 40 {
		t.Fatalf("universe %+v", u)
	}
	old := u.Lookup("old")
	if old == nil || old.Removed != "2026-05-01" || old.Newest() != "2.0.0-r1" {
		t.Errorf("old %+v, want removed=2026-05-01 at 2.0.0-r1", old)
	}
	if k := u.Lookup("keep"); k == nil || k.Removed != "" || k.Newest() != "1.0.0-r0" {
		t.Errorf("keep %+v", k)
	}
	if _, err := ImportWolfi(context.Background(), filepath.Join(dir, ".git"), "no-such-rev", WolfiOptions{}); err == nil || !strings.Contains(err.Error(), "no-such-rev") {
		t.Errorf("bad revision: %v", err)
	}
}
