package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/finding"
)

// vetUniverseCatalog is a catalog of one-stream images, each a mutation of a
// good spec, with small universe fixtures for wolfi and alpine-3.23.
const vetUniverseCatalog = "testdata/universe/catalog"

// TestVetUniverse mutates specs the ways the universe catches (unknown
// name, typo, renamed package, version never built, wrong epoch, newer than
// the snapshot, entrypoint not provided, cmd program not provided, removed
// package, install trigger, missing architecture, unverified entry) and
// checks each gets its finding at the file:line of the value it is about.
func TestVetUniverse(t *testing.T) {
	cases := []struct {
		image, rule, at, msg string
		warning              bool
	}{
		{"ux", "package-exists", `package: "no-such-package-xyz"`, `package "no-such-package-xyz" is not in wolfi (snapshot 2026-08-22)`, false},
		{"typo", "package-exists", `package: "ngnix-mainline"`, `did you mean "nginx-mainline"`, false},
		{"renamed", "package-exists", `package: "httpd"`, `did you mean "apache2" (provides cmd:httpd)`, false},
		{"never-built", "package-version", `version: "18.5-r0"`, "nearest: 18.4-r0, 18.6-r0; newest: 18.6-r1", false},
		{"wrong-epoch", "package-version", `version: "1.31.4-r1"`, "1.31.4 was built as 1.31.4-r0 (wrong epoch)", false},
		{"newer", "package-version", `version: "1.32.0-r0"`, "newer than the newest, 1.31.4-r0", false},
		{"java", "entrypoint-provided", `entrypoint: ["/usr/bin/java"]`, "openjdk-21-default-jvm (same origin as openjdk-21-jre) pulls in java-common-jre", false},
		{"bogus-entrypoint", "entrypoint-provided", `entrypoint: ["/opt/bogus/not-a-real-binary"]`, "nothing in wolfi (snapshot 2026-08-22) provides it", false},
		{"cmd-program", "entrypoint-provided", `cmd: ["/usr/bin/nginx"`, "provided by nginx-mainline", false},
		{"removed", "package-exists", `package: "prometheus"`, "left wolfi on 2026-06-10 (its last version was 2.53.1-r0); it is in alpine-3.23 (2.53.1-r0)", false},
		{"trigger", "install-scripts", `entrypoint: ["/usr/bin/postgres"]`, "made by an install script (trigger) of postgresql-common", false},
		{"one-arch", "package-exists", `package: "only-x86"`, "not built for aarch64", false},
		{"unknown-files", "entrypoint-provided", `entrypoint: ["/usr/libexec/facts-unknown/run"]`, "cannot be checked: the wolfi universe knows no programs or files of facts-unknown", true},
		{"broken-dep", "package-exists", `package: "needs-gone"`, "depend on libgone1, which nothing in wolfi (snapshot 2026-08-22) provides", false},
		{"unverified", "universe-verified", `package: "unchecked-tool"`, "could not be verified", true},
	}
	stdout := hicCLI(t, nil, "-C", vetUniverseCatalog, "vet", "--today", "2026-11-27", "--format", "json").must(t, 1).Stdout
	var res struct {
		Findings []finding.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("vet --format json: %v\n%s", err, stdout)
	}
	byImage := map[string][]finding.Finding{}
	for _, f := range res.Findings {
		img := filepath.Base(filepath.Dir(f.Pos.File))
		byImage[img] = append(byImage[img], f)
	}
	for _, tt := range cases {
		t.Run(tt.image, func(t *testing.T) {
			file := filepath.Join(vetUniverseCatalog, tt.image, tt.image+".cue")
			line, col := locate(t, file, tt.at)
			got := byImage[tt.image]
			if len(got) == 0 {
				t.Fatalf("no finding for %s", file)
			}
			for _, f := range got {
				if f.Rule != tt.rule || !strings.Contains(f.Message, tt.msg) {
					t.Errorf("finding %s: %s: %s, want rule %s with %q", f.Pos, f.Rule, f.Message, tt.rule, tt.msg)
					continue
				}
				if f.Pos.Line != line || f.Pos.Column != col || !strings.HasSuffix(f.Pos.File, filepath.Join(tt.image, tt.image+".cue")) {
					t.Errorf("finding at %s, want %s:%d:%d (%s)", f.Pos, file, line, col, tt.at)
				}
				if (f.Severity == finding.Warning) != tt.warning {
					t.Errorf("severity %s", f.Severity)
				}
			}
			delete(byImage, tt.image)
		})
	}
	// The good images (one entrypoint outside bin dirs, known from f=) have none.
	for img, fs := range byImage {
		t.Errorf("unexpected findings for %s: %v", img, fs)
	}
}

// locate returns where a finding on text's first occurrence in file
// points: the first element of a list value ("entrypoint: [...]"), else the
// field's label (columns count bytes, a tab is one).
func locate(t *testing.T, file, text string) (int, int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		c := strings.Index(l, text)
		if c < 0 {
			continue
		}
		if e := strings.Index(text, ": ["); e >= 0 {
			return i + 1, c + e + len(": [") + 1
		}
		return i + 1, c + 1
	}
	t.Fatalf("%s does not contain %q", file, text)
	return 0, 0
}
