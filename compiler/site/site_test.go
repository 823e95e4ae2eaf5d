package site

import (
	"context"
	"encoding/json"
	"fmt"
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
	for _, want := range []string{`<label for="q">`, `<main id="main">`, `lang="en"`, `name="viewport"`, `<a href="images/b_1-alpine-3.23-runtime.html">b:1-alpine-3.23-runtime</a>`} {
		if !strings.Contains(string(index), want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	var eols []string
	for _, r := range indexRows(t, index) {
		eols = append(eols, r[0]+" "+r[7]+" "+r[8])
	}
	if got, want := strings.Join(eols, "|"), "a:1-wolfi-runtime supported |b:1-alpine-3.23-runtime ending 2027-01-15|c:1-wolfi-runtime past 2026-06-01"; got != want {
		t.Errorf("index data: end of life %q, want %q", got, want)
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

// indexRows reads the compact index data of index.html.
func indexRows(t *testing.T, index []byte) [][]string {
	t.Helper()
	_, rest, ok := strings.Cut(string(index), `<script type="application/json" id="index-data">`)
	data, _, ok2 := strings.Cut(rest, "</script>")
	if !ok || !ok2 {
		t.Fatal("index.html has no index data")
	}
	var rows [][]string
	if err := json.Unmarshal([]byte(data), &rows); err != nil {
		t.Fatalf("index data: %v", err)
	}
	return rows
}

// TestIndexIsLazy: a catalog larger than IndexRows gets IndexRows rows as
// HTML and every spec in the index data, whose text cannot end its script
// element.
func TestIndexIsLazy(t *testing.T) {
	dir := t.TempDir()
	var imgs []compile.Image
	for i := range IndexRows + 30 {
		im := img(fmt.Sprintf("i%03d:1-wolfi-runtime", i), "wolfi", "")
		im.Metadata.Title = `</script><script>alert("x")</script>`
		imgs = append(imgs, im)
	}
	if _, err := Write(context.Background(), dir, Input{Images: imgs, Layout: filepath.Join(dir, "no-layout")}); err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(index), "<tr><td>"); n != IndexRows {
		t.Errorf("index.html lists %d rows as HTML, want %d", n, IndexRows)
	}
	rows := indexRows(t, index)
	if len(rows) != len(imgs) || rows[len(rows)-1][0] != imgs[len(imgs)-1].Ref || rows[0][2] != imgs[0].Metadata.Title {
		t.Errorf("index data: %d rows, want %d, the last %s, titles intact", len(rows), len(imgs), imgs[len(imgs)-1].Ref)
	}
	if strings.Contains(string(index), "<script>alert") {
		t.Error("a title's markup reached index.html unescaped")
	}
	if !strings.Contains(string(index), `id="more"`) {
		t.Error("index.html has no button to show more rows")
	}
}
