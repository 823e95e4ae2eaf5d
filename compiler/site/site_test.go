package site

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/smoke"
)

func img(ref, distro, eol string) compile.Image {
	name, rest, _ := strings.Cut(ref, ":")
	return compile.Image{
		Ref: ref, Repository: name, Tags: []string{rest},
		Metadata: compile.Metadata{Image: name, Stream: "1", Version: "1.0.0", Distro: distro, Variant: "runtime",
			Title: name, Description: `<script>alert("x")</script> an image`, Homepage: "https://example.test", License: "MIT",
			Categories: []string{"application"}, Released: "2026-01-01", EndOfLife: eol, MainPackage: name + "=1.0.0-r0"},
		Policy: compile.Policy{Exceptions: []compile.Exception{{Rule: "end-of-life", Reason: "backports until 2027"}}},
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	in := Input{
		Images: []compile.Image{img("a:1-wolfi-runtime", "wolfi", ""), img("b:1-alpine-3.23-runtime", "alpine-3.23", "2027-01-15"), img("c:1-wolfi-runtime", "wolfi", "2026-06-01")},
		Report: &report.Report{Specs: []report.SpecReport{{Ref: "a:1-wolfi-runtime", Status: report.StatusBuilt,
			Findings: []finding.Finding{{Rule: "fs-setuid", Severity: finding.Error, Waived: true, Reason: "needs ping", Message: "setuid /bin/ping"}},
			Tests:    []smoke.Result{{Name: "version", Platform: "linux/arm64", Status: smoke.NotRun, Reason: "this host runs linux/amd64"}}}}},
		Layout: filepath.Join(dir, "no-layout"),
		Today:  today,
	}
	sum, err := Write(context.Background(), filepath.Join(dir, "site"), in)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Specs != 3 || sum.Images != 3 || sum.Built != 0 {
		t.Errorf("summary %+v", sum)
	}
	index, err := os.ReadFile(filepath.Join(dir, "site", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-eol="supported"`, `data-eol="ending"`, `data-eol="past"`, `<label for="q">`, `<main id="main">`, `lang="en"`, `name="viewport"`} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "site", "images", "a_1-wolfi-runtime.html"))
	if err != nil {
		t.Fatal(err)
	}
	p := string(page)
	if strings.Contains(p, "<script>alert") {
		t.Error("a description's markup reached the page unescaped")
	}
	for _, want := range []string{"backports until 2027", "needs ping", "not-run", "this host runs linux/amd64", "Compiled spec"} {
		if !strings.Contains(p, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No asset comes from anywhere but the site itself (links to an
	// image's homepage are links, not assets).
	asset := regexp.MustCompile(`(?:<script[^>]*src|<link[^>]*href|<img[^>]*src)="([^"]*)"|url\(([^)]*)\)`)
	for _, f := range []string{"index.html", "images/a_1-wolfi-runtime.html", "style.css", "site.js"} {
		b, _ := os.ReadFile(filepath.Join(dir, "site", f))
		for _, m := range asset.FindAllStringSubmatch(string(b), -1) {
			if u := m[1] + m[2]; strings.Contains(u, "//") {
				t.Errorf("%s loads an external asset %s", f, u)
			}
		}
	}
	var cj struct {
		Specs []Entry `json:"specs"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "site", "catalog.json"))
	if err := json.Unmarshal(b, &cj); err != nil || len(cj.Specs) != 3 || cj.Specs[1].EOLStatus != EOLEnding || cj.Specs[2].EOLStatus != EOLPast {
		t.Errorf("catalog.json: %v %+v", err, cj.Specs)
	}
}
