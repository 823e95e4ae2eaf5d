package inspect

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
)

// ent is one tar entry of a hand-built layer.
type ent struct {
	name string
	mode int64 // permission + setuid/setgid/sticky, as chmod takes it
	dir  bool
	link string // symlink target
	data string
	uid  int
	typ  byte // tar type flag, when not a dir, symlink or regular file
	pax  map[string]string
}

func dir(name string, mode int64) ent               { return ent{name: name, mode: mode, dir: true} }
func file(name string, mode int64, data string) ent { return ent{name: name, mode: mode, data: data} }
func symlink(name, target string) ent               { return ent{name: name, mode: 0o777, link: target} }

func layerTar(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, Typeflag: tar.TypeReg, Size: int64(len(e.data)), PAXRecords: e.pax}
		switch {
		case e.dir:
			h.Typeflag, h.Size = tar.TypeDir, 0
		case e.link != "":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e.link, 0
		case e.typ != 0:
			h.Typeflag, h.Size = e.typ, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageOf builds an image with one layer per element of layers, lowest first.
func imageOf(t testing.TB, layers ...[]ent) v1.Image {
	t.Helper()
	img := empty.Image
	for _, ents := range layers {
		b := layerTar(t, ents)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"

func baseLayer() []ent {
	return []ent{
		dir("etc", 0o755), file("etc/passwd", 0o644, passwd),
		dir("tmp", 0o1777),
		dir("usr", 0o755), dir("usr/bin", 0o755), file("usr/bin/app", 0o755, "\x7fELF"),
		dir("lib", 0o755), dir("lib/apk", 0o755), dir("lib/apk/db", 0o755),
		file("lib/apk/db/installed", 0o644, "C:Q1abc=\nP:app\nV:1.0-r0\n\nC:Q1def=\nP:baselayout\nV:3.0-r1\n\n"),
	}
}

func baseImage() compile.Image {
	return compile.Image{
		Ref:    "app:1-wolfi-runtime",
		Config: compile.Config{Entrypoint: compile.Entrypoint{Command: "/usr/bin/app --serve"}},
		Policy: compile.Policy{
			RunAsUID: 65532, RunAsUser: "nonroot",
			ForbidShell: true, ShellPaths: []string{"/bin/sh", "/bin/bash", "/bin/busybox"},
			ForbidPackageManager: true, PackageManagerPaths: []string{"/sbin/apk"},
		},
	}
}

var baseSBOM = []Package{{Name: "app", Version: "1.0-r0"}, {Name: "baselayout", Version: "3.0-r1"}}

// got is the part of a finding the table compares.
type got struct {
	Rule, Message string
	Waived        bool
	Reason        string
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		layers [][]ent // on top of baseLayer
		image  func(*compile.Image)
		sbom   []Package
		want   []got
	}{
		{name: "clean image has no findings"},
		{
			name:   "setuid file",
			layers: [][]ent{{file("usr/bin/su", 0o4755, "su")}},
			want:   []got{{Rule: RuleSetuid, Message: "linux/amd64: /usr/bin/su is setuid (mode 4755)"}},
		},
		{
			name:   "setgid file",
			layers: [][]ent{{file("usr/bin/wall", 0o2755, "w")}},
			want:   []got{{Rule: RuleSetuid, Message: "linux/amd64: /usr/bin/wall is setgid (mode 2755)"}},
		},
		{
			// VFS capability v2 with cap_setuid permitted and effective, as
			// setcap writes it; a runtime unpacking the layer sets it.
			name: "file capabilities",
			layers: [][]ent{{{name: "usr/bin/capped", mode: 0o755, data: "c",
				pax: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x80\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}}}},
			want: []got{{Rule: RuleSetuid, Message: "linux/amd64: /usr/bin/capped has file capabilities (xattr security.capability): like a setuid bit, they give whoever runs it privileges"}},
		},
		{
			name:   "setgid directory is not a setuid finding",
			layers: [][]ent{{dir("var", 0o2755)}},
		},
		{
			name:   "setuid removed by a whiteout in an upper layer",
			layers: [][]ent{{file("usr/bin/su", 0o4755, "su")}, {file("usr/bin/.wh.su", 0o644, "")}},
		},
		{
			// An opaque whiteout hides what lower layers put in its
			// directory, not what its own layer wrote before it (as
			// containerd unpacks it; mutate.Extract saw neither file).
			name: "opaque whiteout keeps its own layer's files",
			layers: [][]ent{{dir("opt", 0o755), file("opt/old", 0o4755, "o")},
				{dir("opt", 0o755), dir("opt/!d", 0o755), file("opt/!d/.wh.su", 0o644, ""), file("opt/!d/su", 0o4755, "su"), file("opt/!suid", 0o4755, "s"), file("opt/.wh..wh..opq", 0o644, "")}},
			want: []got{
				{Rule: RuleSetuid, Message: "linux/amd64: /opt/!d/su is setuid (mode 4755)"},
				{Rule: RuleSetuid, Message: "linux/amd64: /opt/!suid is setuid (mode 4755)"},
			},
		},
		{
			name:   "opaque whiteout hides a lower layer's file",
			layers: [][]ent{{dir("opt", 0o755), file("opt/old", 0o4755, "o")}, {dir("opt", 0o755), file("opt/.wh..wh..opq", 0o644, "")}},
		},
		{
			name:   "upper layer adds setuid to a lower file",
			layers: [][]ent{{file("usr/bin/ping", 0o755, "p")}, {file("usr/bin/ping", 0o4711, "p")}},
			want:   []got{{Rule: RuleSetuid, Message: "linux/amd64: /usr/bin/ping is setuid (mode 4711)"}},
		},
		{
			name:   "upper layer drops setuid of a lower file",
			layers: [][]ent{{file("usr/bin/ping", 0o4711, "p")}, {file("usr/bin/ping", 0o755, "p")}},
		},
		{
			name:   "world-writable file and directory, sticky dir fine",
			layers: [][]ent{{dir("var", 0o755), dir("var/cache", 0o777), file("etc/motd", 0o666, "hi"), dir("var/tmp", 0o1777)}},
			want: []got{
				{Rule: RuleWorldWritable, Message: "linux/amd64: /etc/motd is a world-writable file (mode 0666)"},
				{Rule: RuleWorldWritable, Message: "linux/amd64: /var/cache is a world-writable directory without the sticky bit (mode 0777)"},
			},
		},
		{
			name:   "character devices may be world-writable, block devices and fifos may not",
			layers: [][]ent{{dir("dev", 0o755), {name: "dev/null", mode: 0o666, typ: tar.TypeChar}, {name: "dev/sda", mode: 0o666, typ: tar.TypeBlock}, {name: "dev/fifo", mode: 0o622, typ: tar.TypeFifo}}},
			want: []got{
				{Rule: RuleWorldWritable, Message: "linux/amd64: /dev/fifo is a world-writable file (mode 0622)"},
				{Rule: RuleWorldWritable, Message: "linux/amd64: /dev/sda is a world-writable file (mode 0666)"},
			},
		},
		{
			name:   "shell via symlink",
			layers: [][]ent{{dir("bin", 0o755), file("bin/busybox", 0o755, "bb"), symlink("bin/sh", "busybox")}},
			want: []got{
				{Rule: RuleShell, Message: "linux/amd64: shell binary /bin/busybox (mode 0755) is present"},
				{Rule: RuleShell, Message: "linux/amd64: shell binary /bin/sh (symlink to /bin/busybox, mode 0755) is present"},
			},
		},
		{
			name:   "shell through a symlinked parent directory",
			layers: [][]ent{{symlink("bin", "usr/bin"), file("usr/bin/bash", 0o755, "bash")}},
			want:   []got{{Rule: RuleShell, Message: "linux/amd64: shell binary /bin/bash (at /usr/bin/bash, mode 0755) is present"}},
		},
		{
			name:   "dangling shell symlink is not a shell",
			layers: [][]ent{{dir("bin", 0o755), symlink("bin/sh", "/bin/busybox")}},
		},
		{
			name:   "shell allowed in a dev variant",
			layers: [][]ent{{dir("bin", 0o755), file("bin/sh", 0o755, "sh")}},
			image:  func(i *compile.Image) { i.Policy.ForbidShell = false },
		},
		{
			name:   "package manager",
			layers: [][]ent{{dir("sbin", 0o755), file("sbin/apk", 0o755, "apk")}},
			want:   []got{{Rule: RulePackageManager, Message: "linux/amd64: package manager binary /sbin/apk (mode 0755) is present"}},
		},
		{
			name:   "run-as user missing",
			layers: [][]ent{{file("etc/passwd", 0o644, "root:x:0:0:root:/root:/sbin/nologin\n")}},
			want:   []got{{Rule: RuleRunAsUser, Message: "linux/amd64: /etc/passwd has no run-as user nonroot (uid 65532)"}},
		},
		{
			name:   "run-as uid under another name",
			layers: [][]ent{{file("etc/passwd", 0o644, "app:x:65532:65532::/:/sbin/nologin\n")}},
			want:   []got{{Rule: RuleRunAsUser, Message: `linux/amd64: /etc/passwd has uid 65532 as "app", not "nonroot"`}},
		},
		{
			name:   "run-as name with another uid",
			layers: [][]ent{{file("etc/passwd", 0o644, "nonroot:x:1000:1000::/:/sbin/nologin\n")}},
			want:   []got{{Rule: RuleRunAsUser, Message: "linux/amd64: /etc/passwd has user nonroot with uid 1000, not 65532"}},
		},
		{
			name:   "run-as name also an earlier account's",
			layers: [][]ent{{file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nroot:x:65532:65532:Account created by apko:/home/nonroot:/bin/sh\n")}},
			image:  func(i *compile.Image) { i.Policy.RunAsUser = "root" },
			want:   []got{{Rule: RuleRunAsUser, Message: "linux/amd64: /etc/passwd has 2 users named root, the first with uid 0: the name resolves to uid 0, not the run-as uid 65532"}},
		},
		{
			name:   "run-as user twice, the first with the run-as uid",
			layers: [][]ent{{file("etc/passwd", 0o644, "nonroot:x:65532:65532::/:/sbin/nologin\nnonroot:x:0:0::/:/sbin/nologin\n")}},
		},
		{
			name:   "no /etc/passwd",
			layers: [][]ent{{file("etc/.wh.passwd", 0o644, "")}},
			want:   []got{{Rule: RuleRunAsUser, Message: "linux/amd64: /etc/passwd is missing, so run-as user nonroot (uid 65532) does not exist"}},
		},
		{
			name:  "entrypoint missing",
			image: func(i *compile.Image) { i.Config.Entrypoint.Command = "/usr/bin/nginx -g daemon" },
			want:  []got{{Rule: RuleEntrypoint, Message: "linux/amd64: entrypoint /usr/bin/nginx does not exist"}},
		},
		{
			name:   "entrypoint not executable",
			layers: [][]ent{{file("usr/bin/app", 0o644, "x")}},
			want:   []got{{Rule: RuleEntrypoint, Message: "linux/amd64: entrypoint /usr/bin/app (/usr/bin/app) is not executable (mode 0644)"}},
		},
		{
			name:   "entrypoint is a directory",
			layers: [][]ent{{dir("srv", 0o755)}},
			image:  func(i *compile.Image) { i.Config.Entrypoint.Command = "/srv" },
			want:   []got{{Rule: RuleEntrypoint, Message: "linux/amd64: entrypoint /srv (/srv) is not a regular file (mode 0755)"}},
		},
		{
			name:   "entrypoint through symlinks",
			layers: [][]ent{{dir("usr/local", 0o755), dir("usr/local/bin", 0o755), symlink("usr/local/bin/app", "../../bin/app")}},
			image:  func(i *compile.Image) { i.Config.Entrypoint.Command = "/usr/local/bin/app" },
		},
		{
			name:  "relative entrypoint found in PATH",
			image: func(i *compile.Image) { i.Config.Entrypoint.Command = "app" },
		},
		{
			name: "relative entrypoint not in the image's PATH",
			image: func(i *compile.Image) {
				i.Config.Entrypoint.Command = "app"
				i.Config.Environment = map[string]string{"PATH": "/opt/bin"}
			},
			want: []got{{Rule: RuleEntrypoint, Message: "linux/amd64: entrypoint app is not found in PATH"}},
		},
		{
			name: "installed package missing from the SBOM",
			sbom: []Package{{Name: "app", Version: "1.0-r0"}},
			want: []got{{Rule: RuleSBOM, Message: "linux/amd64: installed package baselayout 3.0-r1 is missing from the SBOM"}},
		},
		{
			name: "SBOM lists a package that is not installed, and a wrong version",
			sbom: []Package{{Name: "app", Version: "1.1-r0"}, {Name: "baselayout", Version: "3.0-r1"}, {Name: "openssl", Version: "3.5"}},
			want: []got{
				{Rule: RuleSBOM, Message: "linux/amd64: installed package app is version 1.0-r0, the SBOM says 1.1-r0"},
				{Rule: RuleSBOM, Message: "linux/amd64: SBOM package openssl 3.5 is not installed (not in the apk database)"},
			},
		},
		{
			name:   "apk database under /usr/lib",
			layers: [][]ent{{file("lib/apk/db/.wh.installed", 0, ""), dir("usr/lib", 0o755), dir("usr/lib/apk", 0o755), dir("usr/lib/apk/db", 0o755), file("usr/lib/apk/db/installed", 0o644, "P:app\nV:1.0-r0\n")}},
			want:   []got{{Rule: RuleSBOM, Message: "linux/amd64: SBOM package baselayout 3.0-r1 is not installed (not in the apk database)"}},
		},
		{
			name:   "exception waives a rule but keeps the finding",
			layers: [][]ent{{file("usr/bin/su", 0o4755, "su")}},
			image: func(i *compile.Image) {
				i.Policy.Exceptions = []compile.Exception{{Rule: RuleSetuid, Reason: "su is the product"}}
			},
			want: []got{{Rule: RuleSetuid, Message: "linux/amd64: /usr/bin/su is setuid (mode 4755)", Waived: true, Reason: "su is the product"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := baseImage()
			if tc.image != nil {
				tc.image(&img)
			}
			sbom := baseSBOM
			if tc.sbom != nil {
				sbom = tc.sbom
			}
			rfs, err := FromLayers(imageOf(t, append([][]ent{baseLayer()}, tc.layers...)...))
			if err != nil {
				t.Fatal(err)
			}
			fs, err := Check(context.Background(), Input{Image: img, Platform: "linux/amd64", FS: rfs, SBOM: sbom})
			if err != nil {
				t.Fatal(err)
			}
			var gots []got
			for _, f := range fs {
				if f.Ref != img.Ref || f.Severity != finding.Error || f.Hint == "" {
					t.Errorf("finding %+v: want ref %q, severity error and a hint", f, img.Ref)
				}
				gots = append(gots, got{f.Rule, f.Message, f.Waived, f.Reason})
			}
			if diff := cmp.Diff(tc.want, gots); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckPositionAndCancel(t *testing.T) {
	img := baseImage()
	img.Metadata.SourceFile = "catalog/app/app.cue"
	rfs, err := FromLayers(imageOf(t, baseLayer(), []ent{file("usr/bin/su", 0o4755, "")}))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Check(context.Background(), Input{Image: img, Platform: "linux/arm64", FS: rfs, SBOM: baseSBOM})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Pos.File != "catalog/app/app.cue" || !fs[0].Failing() {
		t.Errorf("findings = %+v, want one failing finding at catalog/app/app.cue", fs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Check(ctx, Input{Image: img, FS: rfs}); err == nil {
		t.Error("Check with a cancelled context succeeded")
	}
}
