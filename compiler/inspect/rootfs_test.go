package inspect

import (
	"archive/tar"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestFromLayersKeepsMetadata(t *testing.T) {
	big := strings.Repeat("x", MaxRetained+1)
	rfs, err := FromLayers(imageOf(t,
		[]ent{dir("tmp", 0o1777), {name: "usr/bin/su", mode: 0o4750, data: "su", uid: 0}, {name: "home/app/f", mode: 0o600, data: "f", uid: 65532}, file("usr/share/big", 0o644, big)},
		[]ent{symlink("usr/bin/sh", "/bin/busybox")},
	))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mode string
		uid  int
		link string
	}{
		{"tmp", "1777", 0, ""},
		{"usr/bin/su", "4750", 0, ""},
		{"home/app/f", "0600", 65532, ""},
		{"home/app", "0755", 0, ""}, // synthesized parent
		{"usr/bin/sh", "0777", 0, "/bin/busybox"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := rfs.Lstat(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got := Octal(fi.Mode()); got != tc.mode {
				t.Errorf("mode = %s, want %s", got, tc.mode)
			}
			if h, ok := fi.Sys().(*tar.Header); !ok || h.Uid != tc.uid {
				t.Errorf("Sys = %#v, want *tar.Header with uid %d", fi.Sys(), tc.uid)
			}
			if tc.link != "" {
				if got, err := rfs.ReadLink(tc.name); err != nil || got != tc.link {
					t.Errorf("ReadLink = %q, %v; want %q", got, err, tc.link)
				}
			}
		})
	}
	if _, err := rfs.ReadFile("usr/share/big"); !errors.Is(err, ErrNotRetained) {
		t.Errorf("ReadFile of a big file = %v, want ErrNotRetained", err)
	}
	if b, err := rfs.ReadFile("usr/bin/su"); err != nil || string(b) != "su" {
		t.Errorf("ReadFile(usr/bin/su) = %q, %v", b, err)
	}
	var names []string
	if err := fs.WalkDir(rfs, ".", func(p string, d fs.DirEntry, err error) error {
		names = append(names, p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{".", "home", "home/app", "home/app/f", "tmp", "usr", "usr/bin", "usr/bin/sh", "usr/bin/su", "usr/share", "usr/share/big"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("walk (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	rfs, err := FromLayers(imageOf(t, []ent{
		dir("usr", 0o755), dir("usr/bin", 0o755), file("usr/bin/busybox", 0o755, ""),
		symlink("bin", "usr/bin"), symlink("usr/bin/sh", "busybox"), symlink("usr/bin/abs", "/bin/sh"),
		symlink("usr/bin/up", "../../usr/bin/busybox"), symlink("loop1", "loop2"), symlink("loop2", "loop1"),
	}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
		err      bool
	}{
		{"bin/sh", "usr/bin/busybox", false},
		{"usr/bin/abs", "usr/bin/busybox", false},
		{"usr/bin/up", "usr/bin/busybox", false},
		{"bin/missing", "usr/bin/missing", false},
		{"missing/x", "", true},
		{"loop1", "", true},
		{".", ".", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Resolve(rfs, tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("Resolve(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestResolveNeverLeavesTheRoot(t *testing.T) {
	m := fstest.MapFS{
		"usr/bin/busybox": {Mode: 0o755},
		"usr/bin/up":      {Mode: fs.ModeSymlink | 0o777, Data: []byte("../../../../usr/bin/busybox")},
	}
	got, err := Resolve(m, "usr/bin/up")
	if err != nil || got != "usr/bin/busybox" {
		t.Errorf("Resolve = %q, %v; want usr/bin/busybox", got, err)
	}
}

func TestRootFSIsAnFS(t *testing.T) {
	rfs, err := FromLayers(imageOf(t, baseLayer()))
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(rfs, "etc/passwd", "usr/bin/app", "lib/apk/db/installed"); err != nil {
		t.Error(err)
	}
}

func TestSBOMPackages(t *testing.T) {
	doc := `{"spdxVersion":"SPDX-2.3","packages":[
	 {"name":"sha256:abc","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:oci/app@sha256%3Aabc?arch=amd64"}]},
	 {"name":"glibc","versionInfo":"2.42-r0","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:apk/wolfi/glibc@2.42-r0?arch=x86_64&distro=wolfi"}]},
	 {"name":"ca-certificates-bundle","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:apk/wolfi/ca-certificates-bundle@20250619-r1?arch=x86_64"}]},
	 {"name":"glibc","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:apk/wolfi/glibc@2.42-r0?arch=x86_64"}]},
	 {"name":"R","versionInfo":"4.5.2-r0","externalRefs":[{"referenceType":"purl","referenceLocator":"pkg:apk/wolfi/r@4.5.2-r0?arch=x86_64&distro=wolfi"}]},
	 {"name":"wolfi","externalRefs":[]}
	]}`
	got, err := SBOMPackages([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	// R keeps its case: the purl lowercases apk names, the apk database does not.
	want := []Package{{"R", "4.5.2-r0"}, {"ca-certificates-bundle", "20250619-r1"}, {"glibc", "2.42-r0"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{`, `{"bomFormat":"CycloneDX"}`} {
		if _, err := SBOMPackages([]byte(bad)); err == nil {
			t.Errorf("SBOMPackages(%s) succeeded", bad)
		}
	}
}
