package apkrepo

import (
	"context"
	"io/fs"
	"testing"
)

func testKey(t *testing.T, name string) *Key {
	t.Helper()
	k, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tinyPackages is a hand-written universe: two versions of hello, a
// setuid binary and a symlink.
func tinyPackages(arch string) []Package {
	return []Package{
		{Name: "base", Version: "1.0-r0", Arch: arch, License: "MIT", Files: []File{
			{Path: "etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\n")},
			{Path: "tmp", Kind: KindDir, Mode: 0o777 | fs.ModeSticky},
		}},
		{Name: "hello", Version: "1.0.0-r0", Arch: arch, Depends: []string{"base"}, Files: []File{
			{Path: "usr/bin/hello", Mode: 0o755, Size: 3000, Seed: 1},
		}},
		{Name: "hello", Version: "1.1.0-r0", Arch: arch, Depends: []string{"base"}, Provides: []string{"cmd:hello=1.1.0-r0"}, Files: []File{
			{Path: "usr/bin/hello", Mode: 0o755, Size: 5000, Seed: 2},
			{Path: "usr/bin/hi", Kind: KindSymlink, Target: "hello"},
			{Path: "usr/bin/passwd", Mode: 0o755 | fs.ModeSetuid, Data: []byte("#!/bin/true\n")},
		}},
	}
}

func TestApkoInstallsHandWrittenRepository(t *testing.T) {
	dir := t.TempDir()
	repo, err := WriteRepository(context.Background(), dir, testKey(t, "tiny"), tinyPackages("x86_64"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := apkoInstall(t, repo.Dir, repo.KeyPath, "x86_64", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if v := got.versions["hello"]; v != "1.1.0-r0" {
		t.Errorf("unpinned hello: got version %q, want newest 1.1.0-r0", v)
	}
	for path, mode := range map[string]int64{"usr/bin/hello": 0o755, "usr/bin/passwd": 0o4755, "tmp": 0o1777} {
		h, ok := got.files[path]
		if !ok {
			t.Errorf("%s not installed", path)
			continue
		}
		if h.Mode&0o7777 != mode {
			t.Errorf("%s: mode %o, want %o", path, h.Mode&0o7777, mode)
		}
	}
	if h := got.files["usr/bin/hello"]; h != nil && h.Size != 5000 {
		t.Errorf("usr/bin/hello: size %d, want 5000", h.Size)
	}
	if h := got.files["usr/bin/hi"]; h == nil || h.Linkname != "hello" {
		t.Errorf("usr/bin/hi: got %+v, want symlink to hello", h)
	}
}
