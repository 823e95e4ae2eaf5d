package check

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/schema"
)

// fieldLocator reports the spec field a finding points at as its file, so
// tests can assert which field each rule blames.
type fieldLocator struct{}

func (fieldLocator) Locate(s *spec.Spec, field string) (finding.Position, bool) {
	return finding.Position{File: field}, true
}

var today = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func tables(t *testing.T) *schema.Tables {
	t.Helper()
	tab, err := schema.LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// goodSpec is a runtime spec that passes every rule.
func goodSpec() *spec.Spec {
	return &spec.Spec{
		Ref: "app:1.0-wolfi-runtime", Image: "app", Stream: "1.0", Version: "1.0.1",
		Distro: "wolfi", Variant: "runtime", Repository: "app",
		Tags:         []string{"1.0", "1.0.1"},
		Platforms:    []string{"linux/amd64", "linux/arm64"},
		MainPackage:  "app=1.0.1-r0",
		Packages:     []string{"wolfi-baselayout", "app=1.0.1-r0"},
		Repositories: []string{"https://packages.wolfi.dev/os"},
		Keyrings:     []string{"https://packages.wolfi.dev/os/wolfi-signing.rsa.pub"},
		User:         spec.User{Name: "nonroot", UID: 65532, GID: 65532, Home: "/home/nonroot"},
		RunAs:        spec.RunAs{UID: 65532, Name: "nonroot"},
		Entrypoint:   []string{"/usr/bin/app"},
		Workdir:      "/",
		Env:          map[string]string{"APP_MODE": "production", "TOKEN_FILE": "/run/secrets/token"},
		Ports:        []string{"8080/tcp"},
		Volumes:      []string{"/data"},
		Paths:        []spec.Path{{Path: "/data", Type: "directory", UID: 65532, GID: 65532, Mode: 0o755}, {Path: "/tmp", Type: "directory", Mode: 0o1777}},
		Annotations: map[string]string{
			"org.opencontainers.image.title":       "app",
			"org.opencontainers.image.description": "A small demo application server.",
			"org.opencontainers.image.licenses":    "Apache-2.0",
			"org.opencontainers.image.url":         "https://example.org",
			"org.opencontainers.image.version":     "1.0.1",
		},
		Dates: spec.Dates{Released: "2026-01-10", EOL: "2027-01-10"},
		Policy: spec.Policy{
			Hardened:               true,
			ShellPackages:          []string{"busybox", "bash"},
			PackageManagerPackages: []string{"apk-tools"},
			BasePackages:           []string{"wolfi-baselayout"},
		},
		Locator: fieldLocator{},
	}
}

// TestUniquePackages (review D1 §10): a package of the image's that the
// base installs, or that it names twice, is a warning at the package named
// again whose fix says where it is already; one the dev variant also adds is
// not (the runtime variant needs it).
func TestUniquePackages(t *testing.T) {
	tab := tables(t)
	s := goodSpec()
	s.Packages = append(s.Packages, "tzdata", "libapp", "busybox", "libapp", "app")
	s.Policy.BasePackages = []string{"wolfi-baselayout", "tzdata"}
	s.Packages = append([]string{"wolfi-baselayout", "tzdata"}, s.Packages[1:]...)
	s.Policy.Hardened, s.Variant = false, "dev"
	s.Policy.DevPackages = []string{"busybox", "apk-tools"}
	s.Packages = append(s.Packages, s.Policy.DevPackages...)
	var got []string
	for _, f := range Spec(s, Options{Today: today, Tables: tab}) {
		if f.Severity != finding.Warning || f.Waived {
			t.Errorf("finding %+v: want a warning, not waived", f)
		}
		got = append(got, f.Rule+" "+f.Pos.File+": "+f.Message+"; fix: "+f.Hint)
	}
	want := []string{
		`unique-packages imagePackages.0: package "tzdata" is already installed by the base of wolfi; fix: tzdata is already installed by the base; remove it from packages`,
		`unique-packages imagePackages.3: package "libapp" is named twice in packages; fix: libapp is already in packages; remove it the second time`,
		`unique-packages imagePackages.4: package "app" is the main package, app=1.0.1-r0; fix: app is the main package (package), installed at the stream's version already; remove it from packages`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestSpecRules breaks each static rule on a hand-built spec, including the
// ones the schema never lets a catalog file break (oci-annotations,
// https-repositories), and checks the rule, the field blamed and waiving.
func TestSpecRules(t *testing.T) {
	tab := tables(t)
	type hit struct{ Rule, Field string }
	tests := []struct {
		name   string
		modify func(s *spec.Spec)
		want   []hit
		waived bool
	}{
		{"good", func(s *spec.Spec) {}, nil, false},
		{"root", func(s *spec.Spec) { s.RunAs = spec.RunAs{UID: 0, Name: "root"} }, []hit{{RuleNonroot, "runAs"}}, false},
		{"user uid 0", func(s *spec.Spec) { s.User.UID, s.RunAs.UID = 0, 0 }, []hit{{RuleNonroot, "user.uid"}}, false},
		{"root in dev is fine", func(s *spec.Spec) { s.RunAs.UID = 0; s.Policy.Hardened = false; s.Variant = "dev" }, nil, false},
		{"shell", func(s *spec.Spec) { s.Packages = append(s.Packages, "bash") }, []hit{{RuleNoShell, "packages.2"}}, false},
		{"shell with version", func(s *spec.Spec) { s.Packages = append(s.Packages, "busybox=1.37.0-r0") }, []hit{{RuleNoShell, "packages.2"}}, false},
		{"shell in dev is fine", func(s *spec.Spec) { s.Packages = append(s.Packages, "bash"); s.Policy.Hardened = false }, nil, false},
		{"package manager", func(s *spec.Spec) { s.Packages = append(s.Packages, "apk-tools") }, []hit{{RuleNoPackageManager, "packages.2"}}, false},
		{"unpinned", func(s *spec.Spec) { s.MainPackage = "app" }, []hit{{RulePinnedPackage, "mainPackage"}}, false},
		{"fuzzy pin", func(s *spec.Spec) { s.MainPackage = "app=~1.0" }, []hit{{RulePinnedPackage, "mainPackage"}}, false},
		{"empty version", func(s *spec.Spec) { s.MainPackage = "app=" }, []hit{{RulePinnedPackage, "mainPackage"}}, false},
		{"missing annotation", func(s *spec.Spec) { delete(s.Annotations, "org.opencontainers.image.licenses") }, []hit{{RuleOCIAnnotations, "annotations.org.opencontainers.image.licenses"}}, false},
		{"blank annotation", func(s *spec.Spec) { s.Annotations["org.opencontainers.image.version"] = " " }, []hit{{RuleOCIAnnotations, "annotations.org.opencontainers.image.version"}}, false},
		{"amd64 only", func(s *spec.Spec) { s.Platforms = []string{"linux/amd64"} }, []hit{{RuleMultiArch, "platforms"}}, false},
		{"no platforms", func(s *spec.Spec) { s.Platforms = nil }, []hit{{RuleMultiArch, "platforms"}}, false},
		{"setuid", func(s *spec.Spec) { s.Paths[0].Mode = 0o4755 }, []hit{{RulePathModes, "paths.0.mode"}}, false},
		{"setgid", func(s *spec.Spec) { s.Paths[0].Mode = 0o2755 }, []hit{{RulePathModes, "paths.0.mode"}}, false},
		{"world-writable", func(s *spec.Spec) { s.Paths[0].Mode = 0o777 }, []hit{{RulePathModes, "paths.0.mode"}}, false},
		{"world-writable file with sticky bit", func(s *spec.Spec) { s.Paths[1].Type = "empty-file" }, []hit{{RulePathModes, "paths.1.mode"}}, false},
		{"privileged port", func(s *spec.Spec) { s.Ports = []string{"8080/tcp", "80/tcp"} }, []hit{{RuleUnprivilegedPort, "ports.1"}}, false},
		{"privileged port as root", func(s *spec.Spec) { s.Ports = []string{"80/tcp"}; s.RunAs.UID = 0; s.Policy.Hardened = false }, nil, false},
		{"port 0", func(s *spec.Spec) { s.Ports = []string{"0/tcp"} }, []hit{{RuleSchema, "ports.0"}}, false},
		{"port 65536", func(s *spec.Spec) { s.Ports = []string{"65536/udp"} }, []hit{{RuleSchema, "ports.0"}}, false},
		{"secret name", func(s *spec.Spec) { s.Env["DB_PASSWORD"] = "hunter2" }, []hit{{RuleNoSecretsInEnv, "env.DB_PASSWORD"}}, false},
		{"secret value", func(s *spec.Spec) { s.Env["GH"] = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789" }, []hit{{RuleNoSecretsInEnv, "env.GH"}}, false},
		{"empty secret is fine", func(s *spec.Spec) { s.Env["API_KEY"] = "" }, nil, false},
		{"http repository", func(s *spec.Spec) { s.Repositories = append(s.Repositories, "http://mirror.example/os") }, []hit{{RuleHTTPSRepos, "repositories.1"}}, false},
		{"no keyring", func(s *spec.Spec) { s.Keyrings = nil }, []hit{{RuleHTTPSRepos, "keyrings"}}, false},
		{"http keyring", func(s *spec.Spec) { s.Keyrings = []string{"http://example/key.rsa.pub"} }, []hit{{RuleHTTPSRepos, "keyrings.0"}}, false},
		{"past end of life", func(s *spec.Spec) { s.Dates.EOL = "2026-11-26" }, []hit{{RuleEndOfLife, "dates.eol"}}, false},
		{"end of life today is fine", func(s *spec.Spec) { s.Dates.EOL = "2026-11-27" }, nil, false},
		{"eol before release", func(s *spec.Spec) { s.Dates.EOL = "2025-01-01" }, []hit{{RuleSchema, "dates.eol"}}, false},
		{"volume without path", func(s *spec.Spec) { s.Volumes = []string{"/srv"} }, []hit{{RuleVolumeOwned, "volumes.0"}}, false},
		{"volume is a file", func(s *spec.Spec) { s.Paths[0].Type = "empty-file" }, []hit{{RuleVolumeOwned, "volumes.0"}}, false},
		{"volume owned by root", func(s *spec.Spec) { s.Paths[0].UID = 0 }, []hit{{RuleVolumeOwned, "volumes.0"}}, false},
		{"path climbs out of /", func(s *spec.Spec) { s.Paths[1].Path = "/../../tmp/x" }, []hit{{RuleCleanPaths, "paths.1.path"}}, false},
		{"path not clean", func(s *spec.Spec) { s.Paths[1].Path = "/tmp//x/" }, []hit{{RuleCleanPaths, "paths.1.path"}}, false},
		{"path with NUL", func(s *spec.Spec) { s.Paths[1].Path = "/tmp/x\x00y" }, []hit{{RuleCleanPaths, "paths.1.path"}}, false},
		{"relative path", func(s *spec.Spec) { s.Paths[1].Path = "tmp" }, []hit{{RuleCleanPaths, "paths.1.path"}}, false},
		{"workdir climbs", func(s *spec.Spec) { s.Workdir = "/../../tmp" }, []hit{{RuleCleanPaths, "workdir"}}, false},
		{"workdir with dot", func(s *spec.Spec) { s.Workdir = "/./srv" }, []hit{{RuleCleanPaths, "workdir"}}, false},
		{"volume climbs", func(s *spec.Spec) { s.Volumes = []string{"/data/.."}; s.Paths[0].Path = "/data/.." }, []hit{{RuleCleanPaths, "paths.0.path"}, {RuleCleanPaths, "volumes.0"}}, false},
		{"home climbs", func(s *spec.Spec) { s.User.Home = "/home/../root" }, []hit{{RuleCleanPaths, "user.home"}}, false},
		{"entrypoint climbs", func(s *spec.Spec) { s.Entrypoint = []string{"/usr/bin/../../bin/sh"} }, []hit{{RuleCleanPaths, "entrypoint.0"}}, false},
		{"entrypoint relative", func(s *spec.Spec) { s.Entrypoint = []string{"app"} }, []hit{{RuleCleanPaths, "entrypoint.0"}}, false},
		{"entrypoint argument with NUL", func(s *spec.Spec) { s.Entrypoint = []string{"/usr/bin/app", "a\x00b"} }, []hit{{RuleCleanPaths, "entrypoint.1"}}, false},
		{"cmd with NUL", func(s *spec.Spec) { s.Cmd = []string{"serve\x00"} }, []hit{{RuleCleanPaths, "cmd.0"}}, false},
		{"env with NUL", func(s *spec.Spec) { s.Env["APP_MODE"] = "prod\x00uction" }, []hit{{RuleEnvValues, "env.APP_MODE"}}, false},
		{"env with newline", func(s *spec.Spec) { s.Env["APP_MODE"] = "prod\nINJECTED=1" }, []hit{{RuleEnvValues, "env.APP_MODE"}}, false},
		{"env with escape", func(s *spec.Spec) { s.Env["APP_MODE"] = "\x1b[31mred" }, []hit{{RuleEnvValues, "env.APP_MODE"}}, false},
		{"env with unicode is fine", func(s *spec.Spec) { s.Env["APP_MODE"] = "prodüction ✓" }, nil, false},
		{"exception unknown rule", func(s *spec.Spec) { s.Exceptions = []spec.Exception{{Rule: "no-shel", Reason: "x"}} }, []hit{{RuleException, "exceptions.0.rule"}}, false},
		{"exception empty reason", func(s *spec.Spec) { s.Exceptions = []spec.Exception{{Rule: "nonroot", Reason: "\t"}} }, []hit{{RuleException, "exceptions.0.reason"}}, false},
		{"exception not waivable", func(s *spec.Spec) { s.Exceptions = []spec.Exception{{Rule: "unique-refs", Reason: "x"}} }, []hit{{RuleException, "exceptions.0.rule"}}, false},
		{"exception twice", func(s *spec.Spec) {
			s.Exceptions = []spec.Exception{{Rule: "nonroot", Reason: "a"}, {Rule: "nonroot", Reason: "b"}}
		}, []hit{{RuleException, "exceptions.1.rule"}}, false},
		{"waived root", func(s *spec.Spec) {
			s.RunAs.UID = 0
			s.Exceptions = []spec.Exception{{Rule: "nonroot", Reason: "binds port 80 first"}}
		}, []hit{{RuleNonroot, "runAs"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := goodSpec()
			tt.modify(s)
			fs := Spec(s, Options{Today: today, Tables: tab})
			var got []hit
			for _, f := range fs {
				got = append(got, hit{f.Rule, f.Pos.File})
				if f.Ref != s.Ref || f.Severity != finding.Error || f.Message == "" {
					t.Errorf("finding %+v: want ref %s, severity error and a message", f, s.Ref)
				}
				if f.Hint == "" {
					t.Errorf("finding %+v has no hint", f)
				}
				if f.Waived != tt.waived {
					t.Errorf("finding %s waived = %v, want %v", f.Rule, f.Waived, tt.waived)
				}
				if f.Waived && f.Reason == "" {
					t.Errorf("waived finding %s has no reason", f.Rule)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCatalogRules(t *testing.T) {
	tab := tables(t)
	a := goodSpec()
	b := goodSpec() // same ref and tags
	c := goodSpec()
	c.Ref, c.Stream, c.Tags = "app:1.1-wolfi-runtime", "1.1", []string{"1.1", "1.0.1", "latest"}
	d := goodSpec()
	d.Ref, d.Repository, d.Tags = "other:1.0-wolfi-runtime", "other", []string{"1.0"} // other repository: no clash
	type hit struct{ Rule, Ref, Field string }
	var got []hit
	for _, f := range Catalog([]*spec.Spec{a, b, c, d}, Options{Today: today, Tables: tab}) {
		got = append(got, hit{f.Rule, f.Ref, f.Pos.File})
		if f.Hint == "" || f.Message == "" {
			t.Errorf("finding %+v lacks message or hint", f)
		}
	}
	// A tag clash is one finding per pair of streams, at the later stream's
	// tags, on every spec involved (so each fails and vet shows it once);
	// here the stub locator puts the streams in different "files" (the
	// field), so the earlier stream's tags get it too.
	want := []hit{
		{RuleUniqueRefs, "app:1.0-wolfi-runtime", ""},
		{RuleUniqueRefs, "app:1.0-wolfi-runtime", ""},
		// the duplicate spec produces tags 1.0 and 1.0.1 again: one clash
		{RuleUniqueTags, "app:1.0-wolfi-runtime", "tags.0"},
		{RuleUniqueTags, "app:1.0-wolfi-runtime", "tags"},
		// 1.1 takes over 1.0.1 from the first app:1.0 spec
		{RuleUniqueTags, "app:1.0-wolfi-runtime", "tags.1"},
		{RuleUniqueTags, "app:1.0-wolfi-runtime", "tags"},
		{RuleUniqueTags, "app:1.1-wolfi-runtime", "tags.1"},
		{RuleUniqueTags, "app:1.1-wolfi-runtime", "tags"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestCheckWithoutLocator: a spec built without a loader still gets its file.
func TestCheckWithoutLocator(t *testing.T) {
	s := goodSpec()
	s.Locator, s.File = nil, "app/app.cue"
	s.Platforms = nil
	fs := Check([]*spec.Spec{s}, Options{Today: today, Tables: tables(t)})
	if len(fs) != 1 || fs[0].Rule != RuleMultiArch || fs[0].Pos.File != "app/app.cue" {
		t.Errorf("findings = %+v, want one multi-arch finding in app/app.cue", fs)
	}
}

// TestNonrootHint: the nonroot finding and its fix name what the image says
// that makes it run as root: runAsRoot, a user with uid 0, or both. A fix
// saying "drop runAsRoot" to an image that does not set it sends the
// contributor looking for a field that is not there.
func TestNonrootHint(t *testing.T) {
	tab := tables(t)
	for _, tt := range []struct {
		name          string
		modify        func(s *spec.Spec)
		field, msg    string
		hint, wantNot string
	}{
		{"runAsRoot", func(s *spec.Spec) { s.RunAs = spec.RunAs{UID: 0, Name: "root"} },
			"runAs", "runs as root (uid 0)", "drop runAsRoot", "user.uid"},
		{"user uid 0", func(s *spec.Spec) { s.User.UID, s.RunAs.UID = 0, 0 },
			"user.uid", "user.uid is 0", "remove user.uid 0 or use the nonroot default 65532", "runAsRoot"},
		{"both", func(s *spec.Spec) { s.User.UID, s.RunAs = 0, spec.RunAs{UID: 0, Name: "root"} },
			"runAs", "runAsRoot is set and user.uid is 0", "drop runAsRoot and remove user.uid 0", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := goodSpec()
			tt.modify(s)
			var got []finding.Finding
			for _, f := range Spec(s, Options{Today: today, Tables: tab}) {
				if f.Rule == RuleNonroot {
					got = append(got, f)
				}
			}
			if len(got) != 1 {
				t.Fatalf("nonroot findings: %+v, want one", got)
			}
			f := got[0]
			if f.Pos.File != tt.field || !strings.Contains(f.Message, tt.msg) || !strings.Contains(f.Hint, tt.hint) || (tt.wantNot != "" && strings.Contains(f.Hint, tt.wantNot)) {
				t.Errorf("finding at %s: %q, fix %q; want it at %s saying %q, fix %q without %q", f.Pos.File, f.Message, f.Hint, tt.field, tt.msg, tt.hint, tt.wantNot)
			}
			if !strings.Contains(f.Hint, `{rule: "nonroot"`) {
				t.Errorf("fix %q does not say how to waive the rule", f.Hint)
			}
		})
	}
}
