package diff

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/compile"
)

// nginx returns a compiled spec to mutate; each call is a fresh deep copy.
func nginx(ref string) compile.Image {
	gid := uint32(65532)
	return compile.Image{
		Ref:        ref,
		Repository: "nginx",
		Tags:       []string{"1.29", "1.29.3"},
		Config: compile.Config{
			Contents: compile.Contents{
				Repositories: []string{"https://packages.wolfi.dev/os"},
				Keyring:      []string{"https://packages.wolfi.dev/os/wolfi-signing.rsa.pub"},
				Packages:     []string{"wolfi-baselayout", "nginx=1.29.3-r0", "pcre2"},
			},
			Entrypoint:  compile.Entrypoint{Command: "/usr/sbin/nginx"},
			Cmd:         "-g 'daemon off;'",
			WorkDir:     "/",
			Environment: map[string]string{"PATH": "/usr/bin", "MODE": "prod"},
			Accounts: compile.Accounts{
				RunAs:  "65532",
				Users:  []compile.User{{UserName: "nonroot", UID: 65532, GID: &gid, HomeDir: "/home/nonroot"}},
				Groups: []compile.Group{{GroupName: "nonroot", GID: 65532, Members: []string{"nonroot"}}},
			},
			Archs:       []string{"amd64", "arm64"},
			Paths:       []compile.PathMutation{{Path: "/var/cache/nginx", Type: "directory", UID: 65532, GID: 65532, Permissions: 0o755}},
			Annotations: map[string]string{"org.opencontainers.image.title": "nginx"},
		},
		Ports: []string{"8080/tcp"},
		Metadata: compile.Metadata{
			Image: "nginx", Stream: "1.29", Version: "1.29.3-r0", Distro: "wolfi", Variant: "runtime",
			Title: "nginx", License: "BSD-2-Clause", MainPackage: "nginx=1.29.3-r0", Categories: []string{"web-server"},
		},
		Policy: compile.Policy{RunAsUID: 65532, RunAsUser: "nonroot", ForbidShell: true, ForbidPackageManager: true, ShellPaths: []string{"/bin/sh"}},
	}
}

func TestImage(t *testing.T) {
	const ref = "nginx:1.29-wolfi-runtime"
	tests := []struct {
		name   string
		mutate func(*compile.Image)
		want   []Change
	}{
		{"same", func(*compile.Image) {}, nil},
		{"reordered packages and tags are no change", func(img *compile.Image) {
			img.Config.Contents.Packages = []string{"pcre2", "nginx=1.29.3-r0", "wolfi-baselayout"}
			img.Tags = []string{"1.29.3", "1.29"}
		}, nil},
		{"version bump", func(img *compile.Image) {
			img.Config.Contents.Packages[1] = "nginx=1.29.4-r0"
			img.Tags = []string{"1.29", "1.29.4"}
			img.Metadata.Version = "1.29.4-r0"
			img.Metadata.MainPackage = "nginx=1.29.4-r0"
		}, []Change{
			{Field: "packages", Key: "nginx", Kind: Changed, Old: "nginx=1.29.3-r0", New: "nginx=1.29.4-r0"},
			{Field: "tags", Key: "1.29.3", Kind: Removed, Old: "1.29.3"},
			{Field: "tags", Key: "1.29.4", Kind: Added, New: "1.29.4"},
			{Field: "metadata.mainPackage", Kind: Changed, Old: "nginx=1.29.3-r0", New: "nginx=1.29.4-r0"},
			{Field: "metadata.version", Kind: Changed, Old: "1.29.3-r0", New: "1.29.4-r0"},
		}},
		{"packages added and removed", func(img *compile.Image) {
			img.Config.Contents.Packages = []string{"wolfi-baselayout", "nginx=1.29.3-r0", "busybox"}
		}, []Change{
			{Field: "packages", Key: "pcre2", Kind: Removed, Old: "pcre2"},
			{Field: "packages", Key: "busybox", Kind: Added, New: "busybox"},
		}},
		{"entrypoint, cmd and user", func(img *compile.Image) {
			img.Config.Entrypoint.Command = "/usr/bin/nginx"
			img.Config.Cmd = ""
			img.Config.Accounts.RunAs = "0"
			img.Policy.RunAsUID = 0
			img.Policy.RunAsUser = "root"
		}, []Change{
			{Field: "entrypoint", Kind: Changed, Old: "/usr/sbin/nginx", New: "/usr/bin/nginx"},
			{Field: "cmd", Kind: Removed, Old: "-g 'daemon off;'"},
			{Field: "accounts.run-as", Kind: Changed, Old: "65532", New: "0"},
			{Field: "policy.runAsUID", Kind: Changed, Old: "65532", New: "0"},
			{Field: "policy.runAsUser", Kind: Changed, Old: "nonroot", New: "root"},
		}},
		{"ports, env, paths and platforms", func(img *compile.Image) {
			img.Ports = []string{"8080/tcp", "8443/tcp"}
			img.Config.Environment = map[string]string{"PATH": "/usr/local/bin:/usr/bin", "DEBUG": "1"}
			img.Config.Paths[0].Permissions = 0o777
			img.Config.Archs = img.Config.Archs[:1]
		}, []Change{
			{Field: "archs", Key: "arm64", Kind: Removed, Old: "arm64"},
			{Field: "ports", Key: "8443/tcp", Kind: Added, New: "8443/tcp"},
			{Field: "environment", Key: "MODE", Kind: Removed, Old: "MODE=prod"},
			{Field: "environment", Key: "PATH", Kind: Changed, Old: "PATH=/usr/bin", New: "PATH=/usr/local/bin:/usr/bin"},
			{Field: "environment", Key: "DEBUG", Kind: Added, New: "DEBUG=1"},
			{Field: "paths", Key: "/var/cache/nginx", Kind: Changed, Old: "/var/cache/nginx directory 0755 65532:65532", New: "/var/cache/nginx directory 0777 65532:65532"},
		}},
		{"exceptions, annotations and categories", func(img *compile.Image) {
			img.Policy.Exceptions = []compile.Exception{{Rule: "nonroot", Reason: "binds port 80"}}
			img.Config.Annotations["org.opencontainers.image.licenses"] = "BSD-2-Clause"
			img.Metadata.Categories = []string{"web-server", "proxy"}
		}, []Change{
			{Field: "policy.exceptions", Key: "nonroot", Kind: Added, New: "nonroot: binds port 80"},
			{Field: "annotations", Key: "org.opencontainers.image.licenses", Kind: Added, New: "org.opencontainers.image.licenses=BSD-2-Clause"},
			{Field: "metadata.categories", Key: "proxy", Kind: Added, New: "proxy"},
		}},
		{"fields without a dedicated rule are compared by path", func(img *compile.Image) {
			img.KeyPins = map[string]string{"https://packages.wolfi.dev/os/wolfi-signing.rsa.pub": "sha256:00"}
			img.Config.Layering = &compile.Layering{Strategy: "origin", Budget: 10}
			img.Metadata.EndOfLife = "2027-01-01"
			img.Metadata.SourceFile = "nginx/nginx.cue"
		}, []Change{
			{Field: "keyPins.https://packages.wolfi.dev/os/wolfi-signing.rsa.pub", Kind: Added, New: "sha256:00"},
			{Field: "layering.budget", Kind: Added, New: "10"},
			{Field: "layering.strategy", Kind: Added, New: "origin"},
			{Field: "metadata.endOfLife", Kind: Added, New: "2027-01-01"},
			{Field: "metadata.sourceFile", Kind: Added, New: "nginx/nginx.cue"},
		}},
		{"tests", func(img *compile.Image) {
			img.Tests = []compile.Test{{Name: "version", Command: []string{"/usr/sbin/nginx", "-v"}, Expect: "nginx/1.29"}}
		}, []Change{
			{Field: "tests", Key: "version", Kind: Added, New: `version: /usr/sbin/nginx -v => "nginx/1.29"`},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := nginx(ref)
			tc.mutate(&head)
			got, err := Image(nginx(ref), head)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Image (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	a, b, c := "nginx:1.29-wolfi-runtime", "nginx:1.29-wolfi-dev", "nginx:1.30-wolfi-runtime"
	bumped := nginx(b)
	bumped.Ports = nil
	tests := []struct {
		name       string
		base, head map[string]compile.Image
		want       *Diff
	}{
		{"empty", nil, nil, &Diff{Added: []string{}, Removed: []string{}, Changed: []SpecDiff{}}},
		{"unchanged", map[string]compile.Image{a: nginx(a)}, map[string]compile.Image{a: nginx(a)},
			&Diff{Added: []string{}, Removed: []string{}, Changed: []SpecDiff{}, Unchanged: 1}},
		{"added, removed, changed",
			map[string]compile.Image{a: nginx(a), b: nginx(b)},
			map[string]compile.Image{b: bumped, c: nginx(c)},
			&Diff{Added: []string{c}, Removed: []string{a}, Changed: []SpecDiff{{Ref: b, Changes: []Change{
				{Field: "ports", Key: "8080/tcp", Kind: Removed, Old: "8080/tcp"},
			}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compare(tc.base, tc.head)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Compare (-want +got):\n%s", diff)
			}
			if got.Empty() != (len(tc.want.Added)+len(tc.want.Removed)+len(tc.want.Changed) == 0) {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

// sample is a diff with every section, two specs changed alike and one not.
func sample() *Diff {
	bump := []Change{{Field: "packages", Key: "nginx", Kind: Changed, Old: "nginx=1.29.3-r0", New: "nginx=1.29.4-r0"}}
	return &Diff{
		Added:   []string{"nginx:1.30-wolfi-runtime"},
		Removed: []string{"nginx:1.27-wolfi-runtime"},
		Changed: []SpecDiff{
			{Ref: "nginx:1.29-wolfi-dev", Changes: bump},
			{Ref: "nginx:1.29-wolfi-runtime", Changes: bump},
			{Ref: "redis:8-wolfi-runtime", Changes: []Change{
				{Field: "ports", Key: "6379/tcp", Kind: Added, New: "6379/tcp"},
				{Field: "cmd", Kind: Changed, Old: "--x", New: "--y ```"},
			}},
		},
		Unchanged: 7,
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name  string
		write func(*Diff, *strings.Builder) error
		want  string
	}{
		{"text", func(d *Diff, b *strings.Builder) error { return d.WriteText(b) }, `compiled specs: 1 added, 1 removed, 3 changed, 7 unchanged

added:
  + nginx:1.30-wolfi-runtime

removed:
  - nginx:1.27-wolfi-runtime

~ nginx:1.29-wolfi-dev, nginx:1.29-wolfi-runtime
    - packages: nginx=1.29.3-r0
    + packages: nginx=1.29.4-r0

~ redis:8-wolfi-runtime
    + ports: 6379/tcp
    - cmd: --x
    + cmd: --y ` + "```" + `
`},
		{"markdown", func(d *Diff, b *strings.Builder) error { return d.WriteMarkdown(b, 0) }, "### hic diff: 1 added, 1 removed, 3 changed, 7 unchanged\n" +
			"\n**Added (1):** `nginx:1.30-wolfi-runtime`\n" +
			"\n**Removed (1):** `nginx:1.27-wolfi-runtime`\n" +
			"\n**Changed:**\n" +
			"\n<details><summary><code>nginx:1.29-wolfi-dev</code>, <code>nginx:1.29-wolfi-runtime</code>: packages</summary>\n\n" +
			"```diff\n- packages: nginx=1.29.3-r0\n+ packages: nginx=1.29.4-r0\n```\n\n</details>\n" +
			"\n<details><summary><code>redis:8-wolfi-runtime</code>: ports, cmd</summary>\n\n" +
			"````diff\n+ ports: 6379/tcp\n- cmd: --x\n+ cmd: --y ```\n````\n\n</details>\n"},
		{"markdown over the limit", func(d *Diff, b *strings.Builder) error { return d.WriteMarkdown(b, 400) }, "### hic diff: 1 added, 1 removed, 3 changed, 7 unchanged\n" +
			"\n**Added (1):** `nginx:1.30-wolfi-runtime`\n" +
			"\n**Removed (1):** `nginx:1.27-wolfi-runtime`\n" +
			"\n**Changed:**\n" +
			"\n<details><summary><code>nginx:1.29-wolfi-dev</code>, <code>nginx:1.29-wolfi-runtime</code>: packages</summary>\n\n" +
			"```diff\n- packages: nginx=1.29.3-r0\n+ packages: nginx=1.29.4-r0\n```\n\n</details>\n" +
			"\n… and 1 more changed specs; run `hic diff` locally for the whole diff.\n"},
		{"json", func(d *Diff, b *strings.Builder) error {
			d.Changed = d.Changed[2:]
			return d.WriteJSON(b)
		}, `{
  "added": [
    "nginx:1.30-wolfi-runtime"
  ],
  "removed": [
    "nginx:1.27-wolfi-runtime"
  ],
  "changed": [
    {
      "ref": "redis:8-wolfi-runtime",
      "changes": [
        {
          "field": "ports",
          "key": "6379/tcp",
          "kind": "added",
          "new": "6379/tcp"
        },
        {
          "field": "cmd",
          "kind": "changed",
          "old": "--x",
          "new": "--y ` + "```" + `"
        }
      ]
    }
  ],
  "unchanged": 7
}
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.write(sample(), &b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarkdownEmpty(t *testing.T) {
	var b strings.Builder
	d := &Diff{Unchanged: 3}
	if err := d.WriteMarkdown(&b, 0); err != nil {
		t.Fatal(err)
	}
	want := "### hic diff: 0 added, 0 removed, 0 changed, 3 unchanged\n\nNo compiled image changes.\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
