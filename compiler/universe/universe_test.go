package universe

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNearest(t *testing.T) {
	p := &Package{Name: "postgresql-18", Versions: SortVersions([]string{"18.1-r0", "18.2-r0", "18.3-r1", "18.4-r0", "18.6-r0", "18.6-r1"})}
	tests := []struct {
		version string
		n       int
		want    []string
	}{
		{"18.5-r0", 2, []string{"18.4-r0", "18.6-r0"}},
		{"18.5-r0", 3, []string{"18.4-r0", "18.6-r0", "18.3-r1"}},
		{"19.0-r0", 2, []string{"18.6-r1", "18.6-r0"}},
		{"1.0-r0", 2, []string{"18.1-r0", "18.2-r0"}},
		{"not a version", 2, []string{"18.6-r1", "18.6-r0"}},
	}
	for _, tt := range tests {
		if got := p.Nearest(tt.version, tt.n); !cmp.Equal(got, tt.want) {
			t.Errorf("Nearest(%q, %d) = %v, want %v", tt.version, tt.n, got, tt.want)
		}
	}
}

func TestClosureAndProviders(t *testing.T) {
	u, err := Read(strings.NewReader(`@universe 1
@distro wolfi
glibc 2.42-r0 d=ld-linux p=so:libc.so.6=6
java-common-jre 0.2-r0 p=cmd:java
ld-linux 2.42-r0
old 1-r0 p=cmd:java removed=2026-01-01
openjdk-21-default-jvm 21.0.9-r0 o=openjdk-21 d=java-common-jre,openjdk-21-jre
openjdk-21-jre 21.0.9-r0 o=openjdk-21 d=so:libc.so.6,so:libz.so.1
`), "t")
	if err != nil {
		t.Fatal(err)
	}
	names := func(ps []*Package) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	got, missing := u.Closure("openjdk-21-jre=21.0.9-r0")
	if d := cmp.Diff([]string{"openjdk-21-jre", "glibc", "ld-linux"}, names(got)); d != "" {
		t.Errorf("closure (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"so:libz.so.1"}, missing); d != "" {
		t.Errorf("missing (-want +got):\n%s", d)
	}
	// A removed package provides nothing.
	if d := cmp.Diff([]string{"java-common-jre"}, names(u.Providers("cmd:java"))); d != "" {
		t.Errorf("providers of cmd:java (-want +got):\n%s", d)
	}
	if u.Lookup("old") == nil || u.Lookup("nope") != nil {
		t.Error("Lookup")
	}
}

func TestSortVersions(t *testing.T) {
	got := SortVersions([]string{"1.2-r0", "1.10-r0", "bogus", "1.2-r0", "1.2_rc1-r0", "1.2-r10"})
	want := []string{"1.10-r0", "1.2-r10", "1.2-r0", "1.2_rc1-r0", "bogus"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("SortVersions (-want +got):\n%s", d)
	}
	if DependencyName("zlib>=1.3") != "zlib" || DependencyName("!foo") != "foo" || DependencyName("so:libc.so.6") != "so:libc.so.6" {
		t.Error("DependencyName")
	}
}

func TestSuggest(t *testing.T) {
	u, err := Read(strings.NewReader(`@universe 1
@distro wolfi
apache2 2.4.65-r0 p=cmd:apachectl,cmd:httpd
cert-manager-controller-1.20 1.20.1-r0
kyverno-cli-1.16 1.16.2-r0
nginx-mainline 1.31.4-r0
postgresql-18 18.6-r0
prometheus-node-exporter 1.9.1-r0
prometheus-old 1-r0 p=cmd:httpd removed=2026-06-10
`), "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want string }{
		{"httpd", "apache2"},
		{"kyverno-1.16-cli", "kyverno-cli-1.16"},
		{"cert-manager-1.21-controller", "cert-manager-controller-1.20"},
		{"node_exporter", "prometheus-node-exporter"},
		{"ngnix-mainline", "nginx-mainline"},
		{"postgresql-17", "postgresql-18"},
	} {
		got := u.Suggest(tt.in, 3)
		if len(got) == 0 || got[0].Name != tt.want {
			t.Errorf("Suggest(%q) = %v, want %s first", tt.in, got, tt.want)
		}
	}
	// A name in other letter case is named as such, not as "other
	// separators".
	if got := u.Suggest("Nginx-Mainline", 3); len(got) == 0 || got[0] != (Suggestion{"nginx-mainline", "same name in other letter case"}) {
		t.Errorf("Suggest(Nginx-Mainline) = %v, want nginx-mainline first, in other letter case", got)
	}
	if got := u.Suggest("nginx_mainline", 3); len(got) == 0 || got[0] != (Suggestion{"nginx-mainline", "same name with other separators"}) {
		t.Errorf("Suggest(nginx_mainline) = %v, want nginx-mainline first, with other separators", got)
	}
	if got := u.Suggest("no-such-package-xyz", 3); len(got) != 0 {
		t.Errorf("Suggest(no-such-package-xyz) = %v, want nothing", got)
	}
}
