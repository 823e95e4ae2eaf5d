package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// vetToday pins the date end-of-life is judged against, so goldens do not age.
const vetToday = "2026-11-27"

// vetCases are the catalogs under testdata/vet. Each directory is a catalog
// root of one or more image folders, NAME/NAME.cue as in catalog/ (no
// cue.mod: the loader supplies the module and the schema). want lists every distinct "rule file:line:col" the output
// reports, as read from the text, json or github output; the full output is in
// testdata/vet/<name>.golden.
var vetCases = []struct {
	name string
	args []string
	exit int
	want []string
}{
	// CUE syntax errors are load failures: exit 2.
	{"syntax-unclosed-brace", nil, 2, []string{"cue-syntax syntax-unclosed-brace/app/app.cue:14:22"}},
	{"syntax-unterminated-string", nil, 2, []string{"cue-syntax syntax-unterminated-string/app/app.cue:4:9"}},
	{"syntax-missing-colon", nil, 2, []string{"cue-syntax syntax-missing-colon/app/app.cue:15:12"}},
	{"syntax-stray-comma", nil, 2, []string{"cue-syntax syntax-stray-comma/app/app.cue:8:29", "cue-syntax syntax-stray-comma/app/app.cue:15:3"}},
	{"syntax-wrong-package", nil, 2, []string{"cue-syntax syntax-wrong-package/app/app.cue:1:9"}},

	// Wrong types.
	{"type-title-int", nil, 1, []string{"schema type-title-int/app/app.cue:4:9"}},
	{"type-ports-string", nil, 1, []string{"schema type-ports-string/app/app.cue:14:9"}},
	{"type-latest-string", nil, 1, []string{"schema type-latest-string/app/app.cue:11:64"}},
	{"type-uid-string", nil, 1, []string{"schema type-uid-string/app/app.cue:15:14"}},
	{"type-env-int", nil, 1, []string{"schema type-env-int/app/app.cue:15:19"}},
	{"type-entrypoint-empty", nil, 1, []string{"schema type-entrypoint-empty/app/app.cue:13:2"}},
	{"type-streams-list", nil, 1, []string{"schema type-streams-list/app/app.cue:10:11"}},
	{"type-conflicting-values", nil, 1, []string{"schema type-conflicting-values/app/app.cue:15:9"}},

	// Unknown fields, at every level.
	{"unknown-field-image", nil, 1, []string{"schema unknown-field-image/app/app.cue:15:2"}},
	{"unknown-field-stream", nil, 1, []string{"schema unknown-field-stream/app/app.cue:11:56"}},
	{"unknown-field-user", nil, 1, []string{"schema unknown-field-user/app/app.cue:15:9"}},
	{"unknown-field-path", nil, 1, []string{"schema unknown-field-path/app/app.cue:15:26"}},
	{"unknown-top-level", nil, 1, []string{"schema unknown-top-level/app/app.cue:17:1"}},

	// Missing required fields: shown at the closest written parent.
	{"missing-title", nil, 1, []string{"schema missing-title/app/app.cue:3:9"}},
	{"missing-entrypoint", nil, 1, []string{"schema missing-entrypoint/app/app.cue:3:9"}},
	{"missing-stream-version", nil, 1, []string{"schema missing-stream-version/app/app.cue:11:3"}},
	{"missing-stream-released", nil, 1, []string{"schema missing-stream-released/app/app.cue:11:3"}},
	{"missing-streams", nil, 1, []string{"schema missing-streams/app/app.cue:3:9"}},

	// Absurd and malformed values.
	{"unknown-distro", nil, 1, []string{"schema unknown-distro/app/app.cue:11:3", "schema unknown-distro/app/app.cue:15:12"}},
	{"unknown-variant", nil, 1, []string{"schema unknown-variant/app/app.cue:15:13"}},
	{"unknown-platform", nil, 1, []string{"schema unknown-platform/app/app.cue:15:29"}},
	{"unknown-category", nil, 1, []string{"schema unknown-category/app/app.cue:8:15"}},
	{"bad-date-invalid", nil, 1, []string{"schema bad-date-invalid/app/app.cue:11:42"}},
	{"bad-date-format", nil, 1, []string{"schema bad-date-format/app/app.cue:11:42"}},
	{"eol-before-release", nil, 1, []string{"schema eol-before-release/app/app.cue:11:56"}},
	{"port-zero", nil, 1, []string{"schema port-zero/app/app.cue:14:10"}},
	{"port-70000", nil, 1, []string{"schema port-70000/app/app.cue:14:10"}},
	{"port-protocol", nil, 1, []string{"schema port-protocol/app/app.cue:14:10"}},
	{"uid-absurd", nil, 1, []string{"schema uid-absurd/app/app.cue:15:14"}},
	{"uid-negative", nil, 1, []string{"schema uid-negative/app/app.cue:15:14"}},
	{"mode-absurd", nil, 1, []string{"schema mode-absurd/app/app.cue:15:32"}},
	{"version-unreleased", nil, 1, []string{"schema version-unreleased/app/app.cue:11:20"}},
	{"license-not-spdx", nil, 1, []string{"schema license-not-spdx/app/app.cue:7:11"}},
	{"title-empty", nil, 1, []string{"schema title-empty/app/app.cue:4:9"}},
	{"description-too-short", nil, 1, []string{"schema description-too-short/app/app.cue:5:15"}},
	{"homepage-not-url", nil, 1, []string{"schema homepage-not-url/app/app.cue:6:12"}},
	{"image-name-uppercase", nil, 1, []string{"schema image-name-uppercase/My_App/My_App.cue:3:9"}},
	{"stream-name-invalid", nil, 1, []string{"schema stream-name-invalid/app/app.cue:11:3"}},
	{"env-name-invalid", nil, 1, []string{"schema env-name-invalid/app/app.cue:15:8"}},
	{"workdir-relative", nil, 1, []string{"schema workdir-relative/app/app.cue:15:11"}},
	{"stop-signal-invalid", nil, 1, []string{"schema stop-signal-invalid/app/app.cue:15:14"}},
	// A version in packages: names only, the fix says why.
	{"packages-pinned", nil, 1, []string{"schema packages-pinned/app/app.cue:15:13", "schema packages-pinned/app/app.cue:15:31"}},
	{"package-name-invalid", nil, 1, []string{"schema package-name-invalid/app/app.cue:9:11", "schema package-name-invalid/app/app.cue:11:3"}},

	// Every static and catalog hardening rule broken.
	{"nonroot", nil, 1, []string{"nonroot nonroot/app/app.cue:15:2"}},
	// Root by its user's uid, not runAsRoot: the finding and fix say so.
	{"nonroot-uid-zero", nil, 1, []string{"nonroot nonroot-uid-zero/app/app.cue:15:9"}},
	{"no-shell", nil, 1, []string{"no-shell no-shell/app/app.cue:15:2"}},
	{"no-package-manager", nil, 1, []string{"no-package-manager no-package-manager/app/app.cue:15:2"}},
	{"pinned-package", nil, 1, []string{"pinned-package pinned-package/app/app.cue:11:11"}},
	{"multi-arch", nil, 1, []string{"multi-arch multi-arch/app/app.cue:15:2"}},
	{"clean-paths", nil, 1, []string{"clean-paths clean-paths/app/app.cue:14:2", "clean-paths clean-paths/app/app.cue:15:11", "clean-paths clean-paths/app/app.cue:15:35"}},
	{"env-control", nil, 1, []string{"env-values env-control/app/app.cue:14:8", "env-values env-control/app/app.cue:14:35"}},
	{"path-modes-setuid", nil, 1, []string{"path-modes path-modes-setuid/app/app.cue:15:54"}},
	{"path-modes-setgid", nil, 1, []string{"path-modes path-modes-setgid/app/app.cue:15:33"}},
	{"path-modes-world-writable", nil, 1, []string{"path-modes path-modes-world-writable/app/app.cue:15:57"}},
	{"unprivileged-ports", nil, 1, []string{"unprivileged-ports unprivileged-ports/app/app.cue:14:22"}},
	{"no-secrets-in-env", nil, 1, []string{"no-secrets-in-env no-secrets-in-env/app/app.cue:17:3", "no-secrets-in-env no-secrets-in-env/app/app.cue:18:3"}},
	{"end-of-life", nil, 1, []string{"end-of-life end-of-life/app/app.cue:11:56"}},
	// A package the base installs, one named twice and the main package:
	// warnings, each at the package written again, the fix saying where it
	// is already.
	{"unique-packages", []string{"--show-warnings"}, 0, []string{"unique-packages unique-packages/app/app.cue:15:13", "unique-packages unique-packages/app/app.cue:15:33", "unique-packages unique-packages/app/app.cue:15:43"}},
	// Advisories: an unknown status, a not_affected without justification
	// and a fixed version no stream pins, each at its field.
	{"advisory-bad", nil, 1, []string{"advisory advisory-bad/advisories/app.cue:5:2", "advisory advisory-bad/advisories/app.cue:9:2", "advisory advisory-bad/advisories/app.cue:14:2"}},
	{"volume-owned-missing", nil, 1, []string{"volume-owned volume-owned-missing/app/app.cue:15:12"}},
	{"volume-owned-uid", nil, 1, []string{"volume-owned volume-owned-uid/app/app.cue:15:12"}},
	// oci-annotations cannot fail through a catalog file: every annotation
	// comes from a required, non-empty field. Leaving one out is a schema error.
	{"oci-annotations", nil, 1, []string{"schema oci-annotations/app/app.cue:3:9"}},
	// https-repositories cannot fail either: repositories come from the
	// distro table, which a catalog file cannot change.
	{"https-repositories", nil, 1, []string{"schema https-repositories/app/app.cue:18:1"}},
	{"unique-tags-latest", nil, 1, []string{"unique-tags unique-tags-latest/app/app.cue:12:56"}},
	{"unique-tags-repository", nil, 1, []string{"unique-tags unique-tags-repository/app/app.cue:11:3", "unique-tags unique-tags-repository/app2/app2.cue:11:3"}},
	// Two files declaring one image break the layout too (an image is
	// declared in catalog/NAME/NAME.cue only); unique-refs stays for a
	// catalog that does.
	{"unique-refs", nil, 1, []string{"catalog-layout unique-refs/a/app.cue:3:9", "catalog-layout unique-refs/b/app.cue:3:9", "unique-refs unique-refs/a/app.cue:3:9", "unique-refs unique-refs/b/app.cue:3:9", "unique-tags unique-refs/a/app.cue:11:3", "unique-tags unique-refs/b/app.cue:11:3"}},

	// Exceptions.
	{"exception-unknown-rule", nil, 1, []string{"exception exception-unknown-rule/app/app.cue:15:16"}},
	{"exception-stream-unknown-rule", nil, 1, []string{"exception exception-stream-unknown-rule/app/app.cue:11:70"}},
	{"exception-empty-reason", nil, 1, []string{"exception exception-empty-reason/app/app.cue:16:33"}},
	{"exception-missing-reason", nil, 1, []string{"schema exception-missing-reason/app/app.cue:15:15"}},
	{"exception-not-waivable", nil, 1, []string{"exception exception-not-waivable/app/app.cue:15:16"}},
	{"exception-duplicate", nil, 1, []string{"exception exception-duplicate/app/app.cue:18:4"}},
	{"waived-nonroot", []string{"--show-waived"}, 0, []string{"nonroot waived-nonroot/app/app.cue:15:2"}},
	{"waived-end-of-life", []string{"--show-waived"}, 0, []string{"end-of-life waived-end-of-life/app/app.cue:11:56"}},

	// One catalog with several problems, in each output format.
	{"format-text", nil, 1, []string{"schema format-text/db/db.cue:3:9", "nonroot format-text/web/web.cue:15:2", "no-shell format-text/web/web.cue:16:2"}},
	{"format-json", []string{"--format", "json"}, 1, []string{"schema format-json/db/db.cue:3:9", "nonroot format-json/web/web.cue:15:2", "no-shell format-json/web/web.cue:16:2"}},
	{"format-github", []string{"--format", "github"}, 1, []string{"schema format-github/db/db.cue:3:9", "nonroot format-github/web/web.cue:15:2", "no-shell format-github/web/web.cue:16:2"}},
}

func TestVetGolden(t *testing.T) {
	t.Chdir(filepath.Join("testdata", "vet"))
	// The github format names files relative to the workspace, else to
	// the git repository this test runs in.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_WORKSPACE": wd}

	// Every case directory has a table entry and the reverse.
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs, names []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, c := range vetCases {
		names = append(names, c.name)
	}
	sort.Strings(names)
	if diff := cmp.Diff(dirs, names); diff != "" {
		t.Fatalf("case directories (-testdata/vet +vetCases):\n%s", diff)
	}
	if len(dirs) < 40 {
		t.Errorf("%d cases, want at least 40", len(dirs))
	}

	for _, c := range vetCases {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{"vet", "--today", vetToday}, c.args...), c.name)
			r := hicCLI(t, env, args...)
			got := fmt.Sprintf("# hic %s\nexit %d\n-- stdout --\n%s-- stderr --\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
			golden := c.name + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("output (-%s +got):\n%s", golden, diff)
			}

			if r.Code != c.exit {
				t.Errorf("exit %d, want %d; stderr %q", r.Code, c.exit, r.Stderr)
			}
			format := "text"
			for i, a := range c.args {
				if a == "--format" {
					format = c.args[i+1]
				}
			}
			located, err := locatedFindings(format, r.Stdout)
			if err != nil {
				t.Fatal(err)
			}
			wantLocated := append([]string(nil), c.want...)
			sort.Strings(wantLocated)
			if diff := cmp.Diff(wantLocated, located); diff != "" {
				t.Errorf("rule and position of findings (-want +got):\n%s", diff)
			}
			if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stdout, "goroutine ") {
				t.Errorf("output shows a panic:\n%s%s", r.Stdout, r.Stderr)
			}
		})
	}
}

var (
	reTextFinding   = regexp.MustCompile(`(?m)^  (\S+:\d+:\d+): (?:error|warning|waived): ([a-z0-9-]+): `)
	reGithubFinding = regexp.MustCompile(`(?m)^::(?:error|warning) file=([^,]+),line=(\d+),col=(\d+),title=([a-z0-9-]+)::`)
)

// locatedFindings reads the distinct "rule file:line:col" pairs of vet output.
func locatedFindings(format, out string) ([]string, error) {
	set := map[string]bool{}
	switch format {
	case "text":
		for _, m := range reTextFinding.FindAllStringSubmatch(out, -1) {
			set[m[2]+" "+m[1]] = true
		}
	case "github":
		for _, m := range reGithubFinding.FindAllStringSubmatch(out, -1) {
			set[fmt.Sprintf("%s %s:%s:%s", m[4], m[1], m[2], m[3])] = true
		}
	case "json":
		var doc struct {
			Findings []struct {
				Rule     string `json:"rule"`
				Position struct {
					File   string `json:"file"`
					Line   int    `json:"line"`
					Column int    `json:"column"`
				} `json:"position"`
			} `json:"findings"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			return nil, fmt.Errorf("json output: %v", err)
		}
		for _, f := range doc.Findings {
			set[fmt.Sprintf("%s %s:%d:%d", f.Rule, f.Position.File, f.Position.Line, f.Position.Column)] = true
		}
	}
	got := []string{}
	for k := range set {
		got = append(got, k)
	}
	sort.Strings(got)
	return got, nil
}

// The summary's sentence about errors outside the selection agrees in
// number: "1 error ... fails vet, as it fails", "2 errors ... fail vet, as
// they fail" (it had said "as them fail").
func TestVetSummaryOutsideAgrees(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "1 error outside the selection fails vet, as it fails hic build --all: in a.cue (hic vet a.cue shows it)"},
		{2, "2 errors outside the selection fail vet, as they fail hic build --all: in a.cue (hic vet a.cue shows them)"},
	} {
		r := &vetResult{Outside: tc.n, OutsideFiles: []string{"a.cue"}}
		if got := r.summary(false, false); !strings.Contains(got, tc.want) {
			t.Errorf("summary with %d outside:\n%s\nwant it to contain %q", tc.n, got, tc.want)
		}
	}
}
