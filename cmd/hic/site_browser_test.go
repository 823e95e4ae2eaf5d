package main

// The site's browser test (issue 13): headless Chromium, driven over the
// DevTools protocol, opens the site generated for the whole catalog (two of
// its specs built and signed here), searches, filters by distro, opens an
// image page and finds its digests, its waivers with their reasons and its
// OpenVEX statements, with no console error and no request leaving the file
// system; axe-core finds no serious accessibility violation. Screenshots of
// the index and the image page are kept under .work/site-browser (or
// $HIC_TEST_ARTIFACTS).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hic-build/hic/compiler/site"
)

const (
	sbCatalog = "../../catalog"
	// sbSpec has an end-of-life waiver and an advisory (nginx); sbOther an
	// advisory about curl.
	sbSpec  = "nginx-alpine:1.28-alpine-3.22-runtime"
	sbOther = "curl:8-wolfi-runtime"
	sbToday = "2026-12-01"
)

func TestSiteInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run .ci/tools.sh (make tools)")
	}
	axe, err := os.ReadFile("../../.tools/node_modules/axe-core/axe.min.js")
	if err != nil {
		t.Fatalf("axe-core is not installed (%v): run .ci/tools.sh (make tools)", err)
	}
	tmp := t.TempDir()
	mirror, out, siteDir := filepath.Join(tmp, "mirror"), filepath.Join(tmp, "out"), filepath.Join(tmp, "site")
	bldMirror(t, sbCatalog, mirror, sbSpec, sbOther)
	key := bldKey(t)
	bldBuild(t, 0, sbCatalog, sbSpec, sbOther, "--mirrors", mirror, "--out", out, "--key", key, "--today", sbToday)
	rep := bldReport(t, out)
	sbVerified(t, out, strings.TrimSuffix(key, ".key")+".pub", filepath.Join(tmp, "site-verified"))
	if r := hicCLI(t, nil, "-C", sbCatalog, "site", "--build", out, "--out", siteDir, "--today", sbToday); r.Code != 0 || !strings.Contains(r.Stdout, "open file://") {
		t.Fatalf("hic site: %s", r)
	}
	var cj struct {
		Specs []site.Entry `json:"specs"`
	}
	b, err := os.ReadFile(filepath.Join(siteDir, "catalog.json"))
	if err != nil || json.Unmarshal(b, &cj) != nil {
		t.Fatalf("catalog.json: %v", err)
	}
	if len(cj.Specs) <= 1000 {
		t.Fatalf("catalog.json lists %d specs, want the whole catalog (more than 1,000)", len(cj.Specs))
	}

	artifacts := os.Getenv("HIC_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join("..", "..", ".work", "site-browser")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx := sbBrowser(t, t.Context(), chromium, tmp)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	// Every console message, exception and browser log entry of the pages.
	// The test ends by writing a marker, and reads up to it.
	messages := chromedp.Console(ctx)
	index := "file://" + mustAbs(t, filepath.Join(siteDir, "index.html"))
	err = chromedp.Do(ctx,
		chromedp.Navigate(index),
		chromedp.WaitVisible(chromedp.ID("specs")),
	)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	nav, err := sbNavigationTiming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The index lists the first rows and renders more on request.
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#specs tbody tr").length`))
	if err != nil || rows != site.IndexRows {
		t.Fatalf("index lists %d rows (%v), want the first %d", rows, err, site.IndexRows)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("more"))); err != nil {
		t.Fatalf("show more: %v", err)
	}
	// Scrolling near the end renders more on its own, so the click gives
	// at least one more page; the count says how many are listed.
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelectorAll("#specs tbody tr").length + " " + document.getElementById("count").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	n, listedText, _ := strings.Cut(listed, " ")
	if rows, _ := strconv.Atoi(n); rows < 2*site.IndexRows || listedText != fmt.Sprintf("%d of %d specs match, the first %d listed", len(cj.Specs), len(cj.Specs), rows) {
		t.Fatalf("after show more: %s rows, count %q; want %d or more rows, counted", n, listedText, 2*site.IndexRows)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("q"), "nginx"),
		chromedp.SetValue(chromedp.ID("f-distro"), "alpine-3.22"),
		discard(chromedp.Evaluate[bool](`document.getElementById("f-distro").dispatchEvent(new Event("change"))`)),
	)
	if err != nil {
		t.Fatalf("search and filter: %v", err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#specs tbody tr:not([hidden])")).map(r => r.cells[2].textContent + " " + r.cells[0].textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	count, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("count")))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// The speed target (under a second) is checked by BenchmarkSiteIndexLoad.
	t.Logf("index of %d specs: DOMContentLoaded after %.0f ms, load event after %.0f ms; search nginx + distro alpine-3.22: %s", len(cj.Specs), nav.DOMContentLoaded, nav.Load, count)
	writeArtifact(t, artifacts, "index.png", shot)
	found := false
	for _, s := range shown {
		distro, ref, _ := strings.Cut(s, " ")
		if distro != "alpine-3.22" || !strings.Contains(ref, "nginx") {
			t.Errorf("filtered row %q: want distro alpine-3.22 and nginx", s)
		}
		found = found || ref == sbSpec
	}
	if !found || !strings.HasPrefix(count, fmt.Sprint(len(shown), " of ", len(cj.Specs))) {
		t.Fatalf("after search and filter: rows %q, count %q; want %s among them", shown, count, sbSpec)
	}
	axeCheck(t, ctx, axe, "index")

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="images/`+strings.ReplaceAll(sbSpec, ":", "_")+`.html"]`)),
		chromedp.WaitVisible(chromedp.ID("h-tags")),
	)
	if err != nil {
		t.Fatalf("image page: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	if shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, artifacts, "image.png", shot)
	for _, want := range []string{
		rep[sbSpec].ImageDigest, "linux/amd64", "linux/arm64", // digests
		"end-of-life", "nginx.org retired 1.28", // the waiver and its reason
		"CVE-2025-23419", "fixed", "pkg:apk/alpine/nginx@1.28.0-r5", // the VEX statement
		"cosign verify-attestation --key hic.pub --insecure-ignore-tlog --type https://openvex.dev/ns/v0.2.0",
		"hic verify --key hic.pub", "attached, signature not checked (hic verify checks it)",
		"smoke", "Compiled spec",
		"/usr/sbin/nginx -v", "synthetic contents", // the version test, passed on the mirror's synthetic nginx
	} {
		if want == "" || !strings.Contains(text, want) {
			t.Errorf("image page lacks %q", want)
		}
	}
	axeCheck(t, ctx, axe, "image page")
	const marker = "hic-browser-test-end"
	if err := chromedp.Do(ctx, discard(chromedp.Evaluate[bool](`console.info("`+marker+`"); true`))); err != nil {
		t.Fatal(err)
	}
	for m, err := range messages {
		if err != nil {
			t.Fatalf("console: %v", err)
		}
		if m.Type == chromedp.ConsoleInfo && m.Text == marker {
			break
		}
		switch m.Type {
		case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
			t.Errorf("browser console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// axeCheck runs axe-core on the page and fails on serious or critical violations.
func axeCheck(t *testing.T, ctx context.Context, axe []byte, page string) {
	t.Helper()
	if err := chromedp.Do(ctx, discard(chromedp.Evaluate[bool](string(axe)+";true"))); err != nil {
		t.Fatalf("%s: inject axe: %v", page, err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"], preload: false}).then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help}))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe: %v", page, err)
	}
	var vs []struct {
		ID, Impact, Help string
		Nodes            int
	}
	if err := json.Unmarshal([]byte(res), &vs); err != nil {
		t.Fatalf("%s: axe result %q: %v", page, res, err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s: axe %s violation %s (%d nodes): %s", page, v.Impact, v.ID, v.Nodes, v.Help)
		} else {
			t.Logf("%s: axe %s violation %s (%d nodes): %s", page, v.Impact, v.ID, v.Nodes, v.Help)
		}
	}
	t.Logf("%s: axe-core: %d violations, none serious", page, len(vs))
}

func writeArtifact(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustAbs(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// discard runs a and drops its value.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// sbVerified: hic site --key with the build's public key finds every blob of
// the built specs intact and every attestation's signature verified, and
// labels their contents so.
func sbVerified(t *testing.T, out, pub, dir string) {
	t.Helper()
	if r := hicCLI(t, nil, "-C", sbCatalog, "site", "--build", out, "--out", dir, "--key", pub, "--today", sbToday); r.Code != 0 {
		t.Fatalf("hic site --key: %s", r)
	}
	var cj struct {
		Specs []site.Entry `json:"specs"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "catalog.json"))
	if err != nil || json.Unmarshal(b, &cj) != nil {
		t.Fatalf("catalog.json: %v", err)
	}
	seen := 0
	for _, e := range cj.Specs {
		if e.Ref != sbSpec && e.Ref != sbOther {
			continue
		}
		seen++
		if len(e.Damaged) > 0 || e.HardeningProblem != "" || e.VEXProblem != "" || e.HardeningResult == "" || len(e.Attestations) == 0 ||
			e.Signatures != "Signed (verified with key "+pub+")" {
			t.Errorf("hic site --key: %s: damaged %q, hardening %q (%s), VEX %s, %d attestations, labelled %q", e.Ref, e.Damaged,
				e.HardeningResult, e.HardeningProblem, e.VEXProblem, len(e.Attestations), e.Signatures)
		}
		for _, a := range e.Attestations {
			if a.Signature != "verified" {
				t.Errorf("hic site --key: %s: %s of %s: signature %q", e.Ref, a.Name, a.Of, a.Signature)
			}
		}
	}
	if seen != 2 {
		t.Errorf("hic site --key: catalog.json has %d of %s and %s", seen, sbSpec, sbOther)
	}
}
