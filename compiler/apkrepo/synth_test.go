package apkrepo

import (
	"bytes"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOlderVersion(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1.27.3-r0", "1.27.2-r0"},
		{"1.27.3-r2", "1.27.2-r2"},
		{"2.0", "1.0"},
		{"1.10", "1.9"},
		{"2025b-r0", "2024b-r0"},
		{"0.0-r2", "0.0-r1"},
		{"0.0.0-r0", ""},
		{"not a version", ""},
	} {
		t.Run(c.in, func(t *testing.T) {
			if got := olderVersion(c.in); got != c.want {
				t.Errorf("olderVersion(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestRealisticSize(t *testing.T) {
	for _, c := range []struct {
		name string
		want int64
	}{
		{"glibc", 6 * mB},
		{"musl", 650 * kB},
		{"openssl", 5 * mB},
		{"openjdk-21", 150 * mB},
		{"openjdk-21-jre", 60 * mB},
		{"nodejs-22", 80 * mB},
		{"python-3.13", 60 * mB},
		{"py3-requests", 2 * mB},
		{"libpcre2", 500 * kB},
		{"some-cli", 10 * mB},
	} {
		if got := realisticSize(c.name); got != c.want {
			t.Errorf("realisticSize(%q) = %d, want %d", c.name, got, c.want)
		}
	}
}

// byID indexes packages as arch/name-version.
func byID(pkgs []Package) map[string]Package {
	m := map[string]Package{}
	for _, p := range pkgs {
		m[p.String()] = p
	}
	return m
}

func fileOf(p Package, path string) (File, bool) {
	i := slices.IndexFunc(p.Files, func(f File) bool { return f.Path == path })
	if i < 0 {
		return File{}, false
	}
	return p.Files[i], true
}

func TestSynthesizeUniverse(t *testing.T) {
	for _, distro := range []string{DistroWolfi, DistroAlpine} {
		t.Run(distro, func(t *testing.T) {
			pkgs := Synthesize(SynthOptions{Distro: distro, Scale: 0.01, Requests: []Request{
				{Name: "nginx", Version: "1.27.3-r0", Executables: []string{"/usr/sbin/nginx"},
					Depends: []string{"pcre2", "zlib", "so:libfoo.so.2", "cmd:perl", "libbar>=2.1"}},
				{Name: "busybox", Version: "1.38.0-r0"},
			}})
			ids := byID(pkgs)
			if len(ids) != len(pkgs) {
				t.Errorf("duplicate packages: %d ids for %d packages", len(ids), len(pkgs))
			}
			libc := map[string]string{DistroWolfi: "glibc", DistroAlpine: "musl"}[distro]
			base := map[string][]string{
				DistroWolfi:  {"wolfi-baselayout", "glibc", "ld-linux"},
				DistroAlpine: {"alpine-baselayout", "alpine-baselayout-data", "musl"},
			}[distro]
			for _, arch := range []string{"x86_64", "aarch64"} {
				var names []string
				for _, p := range pkgs {
					if p.Arch == arch {
						names = append(names, p.Name)
					}
				}
				for _, n := range append(base, "ca-certificates-bundle", "tzdata", "busybox", "bash", "apk-tools", "shadow", "sudo", "su-exec",
					"nginx", "pcre2", "libfoo", "perl", "libbar") {
					if !slices.Contains(names, n) {
						t.Errorf("%s: no package %s", arch, n)
					}
				}
				for _, id := range []string{"nginx-1.27.3-r0", "nginx-1.27.2-r0", "busybox-1.38.0-r0", "busybox-1.37.0-r0", "libbar-2.1"} {
					if _, ok := ids[arch+"/"+id]; !ok {
						t.Errorf("no package %s/%s", arch, id)
					}
				}
				ng := ids[arch+"/nginx-1.27.3-r0"]
				if f, ok := fileOf(ng, "usr/sbin/nginx"); !ok || f.Mode != 0o755 || f.Size == 0 {
					t.Errorf("%s nginx: usr/sbin/nginx = %+v, want an executable", arch, f)
				}
				if !slices.Contains(ng.Depends, libc) || !slices.Contains(ng.Depends, "pcre2") {
					t.Errorf("%s nginx depends %v, want %s and pcre2", arch, ng.Depends, libc)
				}
				if !slices.Contains(ng.Provides, "cmd:nginx=1.27.3-r0") {
					t.Errorf("%s nginx provides %v", arch, ng.Provides)
				}
				if old := ids[arch+"/nginx-1.27.2-r0"]; !slices.Contains(old.Provides, "cmd:nginx=1.27.2-r0") {
					t.Errorf("%s old nginx provides %v", arch, old.Provides)
				}
				bb := ids[arch+"/busybox-1.38.0-r0"]
				if f, ok := fileOf(bb, "bin/sh"); !ok || f.Kind != KindSymlink || f.Target != "/bin/busybox" {
					t.Errorf("%s busybox: bin/sh = %+v", arch, f)
				}
				if !slices.Contains(bb.Provides, "cmd:sh=1.38.0-r0") {
					t.Errorf("%s busybox provides %v, want cmd:sh=1.38.0-r0", arch, bb.Provides)
				}
			}
			// Sizes follow the table times Scale.
			var glibcish int64
			for _, p := range pkgs {
				if p.Arch == "x86_64" && p.Name == libc {
					for _, f := range p.Files {
						glibcish += f.Size
					}
				}
			}
			want := map[string]int64{DistroWolfi: 60 * kB, DistroAlpine: 6500}[distro]
			if glibcish < want*9/10 || glibcish > want*11/10 {
				t.Errorf("%s installed size %d at scale 0.01, want about %d", libc, glibcish, want)
			}
		})
	}
}

func TestSynthesizeHardeningFiles(t *testing.T) {
	ids := byID(Synthesize(SynthOptions{Archs: []string{"x86_64"}}))
	for _, c := range []struct {
		pkg, path string
		kind      FileKind
		mode      fs.FileMode
	}{
		{"wolfi-baselayout-20230201-r24", "tmp", KindDir, 0o777 | fs.ModeSticky},
		{"wolfi-baselayout-20230201-r24", "root", KindDir, 0o700},
		{"wolfi-baselayout-20230201-r24", "etc/passwd", KindRegular, 0o644},
		{"wolfi-baselayout-20230201-r24", "etc/os-release", KindRegular, 0o644},
		{"shadow-4.17.4-r0", "usr/bin/passwd", KindRegular, 0o755 | fs.ModeSetuid},
		{"shadow-4.17.4-r0", "usr/bin/chage", KindRegular, 0o755 | fs.ModeSetgid},
		{"sudo-1.9.17-r0", "usr/bin/sudo", KindRegular, 0o755 | fs.ModeSetuid},
		{"apk-tools-2.14.10-r0", "sbin/apk", KindRegular, 0o755},
		{"apk-tools-2.14.10-r0", "usr/bin/apk", KindSymlink, 0},
		{"bash-5.2.37-r0", "bin/bash", KindRegular, 0o755},
		{"busybox-1.37.0-r0", "bin/busybox", KindRegular, 0o755},
		{"ca-certificates-bundle-20250619-r0", "etc/ssl/certs/ca-certificates.crt", KindRegular, 0o644},
	} {
		p, ok := ids["x86_64/"+c.pkg]
		if !ok {
			t.Errorf("no package %s", c.pkg)
			continue
		}
		f, ok := fileOf(p, c.path)
		if !ok || f.Kind != c.kind || f.Mode != c.mode {
			t.Errorf("%s: %s = %+v, want %s mode %v", c.pkg, c.path, f, c.kind, c.mode)
		}
	}
	passwd, _ := fileOf(ids["x86_64/wolfi-baselayout-20230201-r24"], "etc/passwd")
	if string(passwd.Data) != "root:x:0:0:root:/root:/bin/sh\n" {
		t.Errorf("/etc/passwd = %q, want root only", passwd.Data)
	}
}

func TestSynthesizeDeterministicAndDefaults(t *testing.T) {
	opts := SynthOptions{Requests: []Request{{Name: "curl"}, {Name: "libxml2"}}}
	a, b := Synthesize(opts), Synthesize(opts)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two runs differ:\n%s", diff)
	}
	ids := byID(a)
	for _, id := range []string{"x86_64/curl-1.0.0-r0", "aarch64/curl-1.0.0-r0", "x86_64/curl-0.0.0-r0"} {
		if _, ok := ids[id]; !ok {
			t.Errorf("missing %s", id)
		}
	}
	curl := ids["x86_64/curl-1.0.0-r0"]
	if _, ok := fileOf(curl, "usr/bin/curl"); !ok {
		t.Error("curl without executables should ship usr/bin/curl")
	}
	if !curl.BuildTime.Equal(DefaultBuildTime()) {
		t.Errorf("build time %v, want default", curl.BuildTime)
	}
	lib := ids["x86_64/libxml2-1.0.0-r0"]
	if slices.ContainsFunc(lib.Files, func(f File) bool { return strings.HasPrefix(f.Path, "usr/bin/") }) {
		t.Errorf("library package ships executables: %+v", lib.Files)
	}
	// Seeds differ between arches, so the two arches' files differ.
	xf, _ := fileOf(curl, "usr/bin/curl")
	af, _ := fileOf(ids["aarch64/curl-1.0.0-r0"], "usr/bin/curl")
	if xf.Seed == af.Seed {
		t.Error("same seed on both arches")
	}
}

func TestSynthOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		opts SynthOptions
		want string // "" for valid
	}{
		{"zero", SynthOptions{}, ""},
		{"alpine", SynthOptions{Distro: DistroAlpine, Archs: []string{"aarch64"}, Scale: 1}, ""},
		{"bad distro", SynthOptions{Distro: "debian"}, "unknown distro"},
		{"negative scale", SynthOptions{Scale: -1}, "invalid scale"},
		{"go arch", SynthOptions{Archs: []string{"arm64"}}, "invalid apk arch"},
		{"bad request", SynthOptions{Requests: []Request{{Name: "a b"}}}, "invalid package name"},
		{"bad version", SynthOptions{Requests: []Request{{Name: "a", Version: "x y"}}}, "version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.opts.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestSynthesizeRequestOrderDoesNotMatter(t *testing.T) {
	reqs := []Request{
		{Name: "nginx", Version: "1.27.3-r0", Executables: []string{"/usr/sbin/nginx"}},
		// Also the older version of the request above: this one must win.
		{Name: "nginx", Version: "1.27.2-r0", Executables: []string{"/usr/bin/nginx-old"}},
		{Name: "busybox", Version: "1.39.0-r0"},
		{Name: "busybox", Version: "1.38.0-r0", Executables: []string{"/usr/bin/extra"}},
		{Name: "curl", Depends: []string{"zlib"}},
		{Name: "curl", Executables: []string{"/usr/bin/curl-config"}, Depends: []string{"libpsl"}},
	}
	fwd := byID(Synthesize(SynthOptions{Archs: []string{"x86_64"}, Requests: reqs}))
	reversed := slices.Clone(reqs)
	slices.Reverse(reversed)
	rev := byID(Synthesize(SynthOptions{Archs: []string{"x86_64"}, Requests: reversed}))
	if diff := cmp.Diff(fwd, rev); diff != "" {
		t.Fatalf("request order changes the universe (-forward +reversed):\n%s", diff)
	}
	for _, c := range []struct{ id, file string }{
		{"nginx-1.27.2-r0", "usr/bin/nginx-old"},
		{"nginx-1.27.3-r0", "usr/sbin/nginx"},
		{"busybox-1.38.0-r0", "usr/bin/extra"},
		{"busybox-1.39.0-r0", "bin/busybox"},
		{"busybox-1.37.0-r0", "bin/busybox"}, // the base version stays
		{"curl-1.0.0-r0", "usr/bin/curl-config"},
	} {
		p, ok := fwd["x86_64/"+c.id]
		if !ok {
			t.Errorf("no package %s", c.id)
			continue
		}
		if _, ok := fileOf(p, c.file); !ok {
			t.Errorf("%s: no file %s", c.id, c.file)
		}
	}
	// A program requested of a base package, as of any other, is a real
	// executable answering with the package's version.
	want, err := VersionProgram("x86_64", "extra", "1.38.0-r0")
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := fileOf(fwd["x86_64/busybox-1.38.0-r0"], "usr/bin/extra"); !bytes.Equal(f.Head, want) {
		t.Errorf("busybox's requested /usr/bin/extra is not the version program: head %q", f.Head)
	}
	if d := fwd["x86_64/curl-1.0.0-r0"].Depends; !slices.Contains(d, "zlib") || !slices.Contains(d, "libpsl") {
		t.Errorf("merged curl depends %v, want zlib and libpsl", d)
	}
}

func TestSynthesizeExact(t *testing.T) {
	pkgs := Synthesize(SynthOptions{Exact: true, Requests: []Request{
		{Name: "nginx-mainline", Version: "1.31.4-r0", Depends: []string{"so:libz.so.1"}, Provides: []string{"cmd:nginx"}, Executables: []string{"/usr/sbin/nginx"}},
		{Name: "zlib", Version: "1.3.1-r2", Provides: []string{"so:libz.so.1=1"}},
		{Name: "only-x86", Version: "1.0-r0", Archs: []string{"x86_64"}, Origin: "only"},
	}})
	var got []string
	for _, p := range pkgs {
		got = append(got, p.String()+" "+strings.Join(p.Provides, ",")+" o="+p.Origin)
	}
	sort.Strings(got)
	want := []string{
		"aarch64/nginx-mainline-1.31.4-r0 cmd:nginx=1.31.4-r0 o=nginx-mainline",
		"aarch64/zlib-1.3.1-r2 so:libz.so.1=1 o=zlib",
		"x86_64/nginx-mainline-1.31.4-r0 cmd:nginx=1.31.4-r0 o=nginx-mainline",
		"x86_64/only-x86-1.0-r0  o=only",
		"x86_64/zlib-1.3.1-r2 so:libz.so.1=1 o=zlib",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("exact universe (-want +got):\n%s", d)
	}
	for _, p := range pkgs {
		var paths []string
		for _, f := range p.Files {
			paths = append(paths, f.Path)
		}
		switch p.Name {
		case "nginx-mainline":
			if !slices.Contains(paths, "usr/sbin/nginx") || slices.Contains(paths, "usr/bin/nginx-mainline") {
				t.Errorf("nginx-mainline files %v", paths)
			}
		case "zlib": // the base template's library
			if !slices.Contains(paths, "usr/lib/libz.so.1") {
				t.Errorf("zlib files %v", paths)
			}
		case "only-x86":
			if len(paths) != 0 {
				t.Errorf("only-x86 ships %v, want nothing", paths)
			}
		}
	}
}
