package apkrepo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/apk/expandapk"
	"github.com/google/go-cmp/cmp"
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

func TestApkoInstallsSynthesizedRepository(t *testing.T) {
	reqs := []Request{
		{Name: "nginx", Version: "1.27.3-r0", Executables: []string{"/usr/sbin/nginx"}, Depends: []string{"pcre2"}},
		{Name: "hello", Version: "2.0.1-r0"},
	}
	for _, c := range []struct {
		distro, arch string
		install      []string
		versions     map[string]string
		absent       []string
	}{
		{DistroWolfi, "x86_64", []string{"nginx=1.27.2-r0", "busybox", "shadow", "hello"},
			map[string]string{"nginx": "1.27.2-r0", "hello": "2.0.1-r0", "glibc": "2.42-r0", "pcre2": "1.0.0-r0", "wolfi-baselayout": "20230201-r24"},
			[]string{"bin/bash", "sbin/apk"}},
		{DistroAlpine, "aarch64", []string{"alpine-baselayout", "nginx", "busybox", "shadow", "hello=2.0.0-r0"},
			map[string]string{"nginx": "1.27.3-r0", "hello": "2.0.0-r0", "musl": "1.2.5-r10", "alpine-baselayout-data": "3.7.0-r0"},
			[]string{"usr/bin/sudo"}},
		// Every base package at once: no file conflicts between them.
		{DistroWolfi, "aarch64", []string{"busybox", "bash", "apk-tools", "shadow", "sudo", "su-exec", "tzdata", "ca-certificates-bundle", "nginx"},
			map[string]string{"apk-tools": "2.14.10-r0", "bash": "5.2.37-r0", "sudo": "1.9.17-r0", "libcrypto3": "3.5.0-r0", "ld-linux": "2.42-r0"},
			nil},
	} {
		t.Run(c.distro+"/"+c.arch, func(t *testing.T) {
			repo, err := WriteRepository(context.Background(), t.TempDir(), testKey(t, "synth-"+c.distro),
				Synthesize(SynthOptions{Distro: c.distro, Archs: []string{c.arch}, Scale: 0.001, Requests: reqs}))
			if err != nil {
				t.Fatal(err)
			}
			got, err := apkoInstall(t, repo.Dir, repo.KeyPath, c.arch, c.install...)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range c.versions {
				if got.versions[name] != v {
					t.Errorf("%s: installed %q, want %q", name, got.versions[name], v)
				}
			}
			for path, want := range map[string]int64{
				"usr/sbin/nginx": 0o755, "bin/busybox": 0o755, "usr/bin/passwd": 0o4755,
				"usr/bin/chage": 0o2755, "tmp": 0o1777, "etc/passwd": 0o644,
			} {
				h, ok := got.files[path]
				if !ok {
					t.Errorf("%s not installed", path)
					continue
				}
				if h.Mode&0o7777 != want {
					t.Errorf("%s: mode %o, want %o", path, h.Mode&0o7777, want)
				}
			}
			if _, ok := c.versions["sudo"]; ok {
				if h := got.files["usr/bin/sudo"]; h == nil || h.Mode&0o7777 != 0o4755 {
					t.Errorf("usr/bin/sudo: %+v, want mode 4755", h)
				}
				if h := got.files["sbin/apk"]; h == nil || h.Mode&0o7777 != 0o755 {
					t.Errorf("sbin/apk: %+v, want mode 755", h)
				}
			}
			if h := got.files["bin/sh"]; h == nil || h.Linkname != "/bin/busybox" {
				t.Errorf("bin/sh: %+v, want a symlink to /bin/busybox", h)
			}
			for _, p := range c.absent {
				if _, ok := got.files[p]; ok {
					t.Errorf("%s installed but not asked for", p)
				}
			}
		})
	}
}

// readTree returns the bytes of every file under dir, by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteRepositoryDeterministic(t *testing.T) {
	key := testKey(t, "det")
	pkgs := Synthesize(SynthOptions{Requests: []Request{{Name: "nginx", Version: "1.27.3-r0"}, {Name: "redis"}}})
	a, b := t.TempDir(), t.TempDir()
	ra, err := WriteRepository(context.Background(), a, key, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(pkgs) // input order must not matter
	rb, err := WriteRepository(context.Background(), b, key, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) != len(pkgs)+4 { // packages, two indexes, the key, the SYNTHETIC note
		t.Errorf("%d files written, want %d", len(ta), len(pkgs)+4)
	}
	if !IsSynthetic(a) {
		t.Error("the repository is not marked synthetic")
	}
	for p, want := range ta {
		if !bytes.Equal(want, tb[p]) {
			t.Errorf("%s differs between runs", p)
		}
	}
	if diff := cmp.Diff(ra.Archs, rb.Archs); diff != "" || !slices.Equal(ra.Archs, []string{"aarch64", "x86_64"}) {
		t.Errorf("archs %v and %v", ra.Archs, rb.Archs)
	}
	// A package built alone is byte-identical to the one in the repository.
	alone, err := BuildAPK(pkgs[0], key)
	if err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join(pkgs[0].Arch, pkgs[0].Name+"-"+pkgs[0].Version+".apk")
	if !bytes.Equal(alone, ta[rel]) {
		t.Errorf("%s: BuildAPK and WriteRepository disagree", rel)
	}
}

func TestWriteRepositoryIndexMatchesPackages(t *testing.T) {
	repo, err := WriteRepository(context.Background(), t.TempDir(), testKey(t, "idx"), tinyPackages("aarch64"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(repo.IndexPath("aarch64"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idx, err := apk.IndexFromArchive(f)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Description != IndexDescription {
		t.Errorf("description %q", idx.Description)
	}
	var fromIndex, fromRepo []string
	for _, p := range idx.Packages {
		fromIndex = append(fromIndex, p.Name+"-"+p.Version+" "+p.ChecksumString()+" "+strconv.FormatUint(p.Size, 10))
	}
	for _, p := range repo.Packages {
		fromRepo = append(fromRepo, p.Name+"-"+p.Version+" "+p.Checksum+" "+strconv.FormatInt(p.Size, 10))
		fi, err := os.Stat(p.Path)
		if err != nil || fi.Size() != p.Size {
			t.Errorf("%s: stat %v, size %d", p.Path, err, p.Size)
		}
	}
	if diff := cmp.Diff(fromRepo, fromIndex); diff != "" {
		t.Errorf("index vs Repository.Packages (-repo +index):\n%s", diff)
	}
}

func TestApkoRejectsForeignSignatures(t *testing.T) {
	owner := testKey(t, "owner")
	for _, c := range []struct {
		name   string
		signer *Key
		tamper bool
	}{
		{"other key, same name", testKey(t, "owner"), false},
		{"other key, other name", testKey(t, "intruder"), false},
		{"owner key, index changed after signing", owner, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The keyring holds owner's public key; the index is signed by c.signer.
			trusted, err := WriteRepository(context.Background(), t.TempDir(), owner, tinyPackages("x86_64"))
			if err != nil {
				t.Fatal(err)
			}
			repo, err := WriteRepository(context.Background(), t.TempDir(), c.signer, tinyPackages("x86_64"))
			if err != nil {
				t.Fatal(err)
			}
			if c.tamper {
				resignTampered(t, repo.IndexPath("x86_64"))
			}
			if _, err := apkoInstall(t, repo.Dir, trusted.KeyPath, "x86_64", "hello"); err == nil {
				t.Fatal("apko installed from an index it cannot verify")
			}
			// Control: the same repository, trusted with its signer's key,
			// installs. It must live elsewhere: apko caches index parses,
			// failures included, by path and mtime, whatever the keys.
			if !c.tamper {
				ctl, err := WriteRepository(context.Background(), t.TempDir(), c.signer, tinyPackages("x86_64"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := apkoInstall(t, ctl.Dir, ctl.KeyPath, "x86_64", "hello"); err != nil {
					t.Fatalf("signer's own key: %v", err)
				}
			}
		})
	}
}

// resignTampered keeps the index signature but replaces the signed index
// with one whose package list lost its last package.
func resignTampered(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := expandapk.Split(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := io.ReadAll(parts[0])
	idx, err := apk.IndexFromArchive(io.NopCloser(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	idx.Packages = idx.Packages[:len(idx.Packages)-1]
	r, err := apk.ArchiveFromIndex(idx)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := io.ReadAll(r)
	if err := os.WriteFile(path, append(sig, forged...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRepositoryRejects(t *testing.T) {
	key := testKey(t, "rej")
	dup := append(tinyPackages("x86_64"), tinyPackages("x86_64")[1])
	bad := tinyPackages("x86_64")
	bad[1].Files[0].Path = "/abs"
	for _, c := range []struct {
		name string
		key  *Key
		pkgs []Package
		want string
	}{
		{"nil key", nil, tinyPackages("x86_64"), "nil key"},
		{"no packages", key, nil, "no packages"},
		{"duplicate", key, dup, "duplicate package x86_64/hello-1.0.0-r0"},
		{"go arch", key, tinyPackages("arm64"), "invalid apk arch"},
		{"bad file", key, bad, "hello-1.0.0-r0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := WriteRepository(context.Background(), t.TempDir(), c.key, c.pkgs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteRepository(ctx, t.TempDir(), key, tinyPackages("x86_64")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}
