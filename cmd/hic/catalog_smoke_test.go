package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/smoke"
)

// TestCatalogVersionSmoke builds one image of the real catalog from a
// generated mirror: the schema's version table (schema/versions.cue) gives
// nginx the smoke test "version" (nginx -v prints the stream's version),
// the mirror's nginx is a synthetic executable answering with its
// package's version, and the result passes on linux/amd64, is not run on
// linux/arm64, and says in report.json, the build summary and the signed
// hardening attestation that it passed only on synthetic contents.
func TestCatalogVersionSmoke(t *testing.T) {
	bldBwrap(t)
	const ref = "nginx:1.31-wolfi-runtime"
	tmp := t.TempDir()
	mirror, out := filepath.Join(tmp, "mirror"), filepath.Join(tmp, "out")
	bldMirror(t, sbCatalog, mirror, ref)
	_, stderr := bldBuild(t, 0, sbCatalog, ref, "--mirrors", mirror, "--out", out, "--key", bldKey(t))
	if want := "smoke tests: 1 passed (1 only on synthetic contents"; !strings.Contains(stderr, want) {
		t.Errorf("build summary lacks %q:\n%s", want, stderr)
	}
	sr := bldReport(t, out)[ref]
	check := func(where string, rs []smoke.Result) {
		t.Helper()
		byPlat := map[string]smoke.Result{}
		for _, r := range rs {
			if r.Name != "version" {
				t.Errorf("%s: unexpected test %q", where, r.Name)
			}
			byPlat[r.Platform] = r
		}
		host, arm := byPlat["linux/amd64"], byPlat["linux/arm64"]
		if host.Status != smoke.Passed || !host.Synthetic || strings.Join(host.Command, " ") != "/usr/bin/nginx -v" || !strings.Contains(host.Output, "1.31.4") {
			t.Errorf("%s linux/amd64: %+v, want /usr/bin/nginx -v passed on synthetic contents printing 1.31.4", where, host)
		}
		if arm.Status != smoke.NotRun || arm.Reason == "" {
			t.Errorf("%s linux/arm64: %+v, want not-run with a reason", where, arm)
		}
	}
	check("report.json", sr.Tests)
	if !sr.Synthetic {
		t.Error("report.json: the spec is not marked synthetic")
	}

	var hr attest.HardeningReport
	attPredicate(t, out, sr.ImageDigest, attest.PredicateHardening, &hr)
	check("hardening attestation", hr.Tests)
}
