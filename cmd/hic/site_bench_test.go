package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// siteIndexTargetMs is the speed target of the site's index for the whole
// catalog (issue 13): the load event within a second.
const siteIndexTargetMs = 1000

// BenchmarkSiteIndexLoad opens the index of the site generated for the
// whole catalog (1,300+ specs, no build) in headless Chromium, b.N times
// from about:blank, and reports the Navigation Timing medians:
// DOMContentLoaded and the load event, in ms from the navigation's start,
// and the time a search ("nginx") takes to filter and lay out the table.
// It fails when the median load event misses siteIndexTargetMs.
//
//	go test ./cmd/hic -run '^$' -bench SiteIndexLoad -benchtime 20x
func BenchmarkSiteIndexLoad(b *testing.B) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		b.Fatal("chromium is not installed: run .ci/tools.sh (make tools)")
	}
	tmp := b.TempDir()
	siteDir := filepath.Join(tmp, "site")
	if r := hicCLI(b, nil, "-C", sbCatalog, "site", "--build", filepath.Join(tmp, "no-build"), "--out", siteDir, "--today", sbToday); r.Code != 0 || !strings.Contains(r.Stdout, "open file://") {
		b.Fatalf("hic site: %s", r)
	}
	ctx := sbBrowser(b, b.Context(), chromium, tmp)
	index := "file://" + mustAbs(b, filepath.Join(siteDir, "index.html"))
	// One load to start the browser, not measured.
	if err := chromedp.Do(ctx, chromedp.Navigate(index)); err != nil {
		b.Fatal(err)
	}
	var dcl, load, search []float64
	b.ResetTimer()
	for b.Loop() {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(index)); err != nil {
			b.Fatal(err)
		}
		nt, err := sbNavigationTiming(ctx)
		if err != nil {
			b.Fatal(err)
		}
		dcl, load = append(dcl, nt.DOMContentLoaded), append(load, nt.Load)
		// A search, from the input event to the laid-out table.
		ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { const t = performance.now(), q = document.getElementById("q"); q.value = "nginx"; q.dispatchEvent(new Event("input")); void document.body.offsetHeight; return performance.now() - t; })()`))
		if err != nil {
			b.Fatal(err)
		}
		search = append(search, ms)
	}
	b.StopTimer()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(index)); err != nil {
		b.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#specs tbody tr").length`))
	if err != nil {
		b.Fatal(err)
	}
	md, ml, ms := median(dcl), median(load), median(search)
	b.ReportMetric(md, "dcl-ms")
	b.ReportMetric(ml, "load-ms")
	b.ReportMetric(ms, "search-ms")
	b.ReportMetric(float64(rows), "rows")
	b.Logf("index of the whole catalog: DOMContentLoaded %.0f ms, load %.0f ms (medians of %d loads; %.0f-%.0f ms), %d rows in the DOM at load; search \"nginx\" %.1f ms", md, ml, len(load), slices.Min(load), slices.Max(load), rows, ms)
	if ml >= siteIndexTargetMs {
		b.Errorf("median load event after %.0f ms, want under %d ms", ml, siteIndexTargetMs)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// sbBrowser starts headless Chromium with a profile under dir and returns
// a browser context; it is closed when the test ends.
func sbBrowser(tb testing.TB, ctx context.Context, chromium, dir string) context.Context {
	tb.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	return bctx
}

// sbTiming is the Navigation Timing of the current page, in milliseconds
// from the start of the navigation.
type sbTiming struct {
	DOMContentLoaded float64 `json:"dcl"`
	Load             float64 `json:"load"`
}

func sbNavigationTiming(ctx context.Context) (sbTiming, error) {
	var nt sbTiming
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const n = performance.getEntriesByType("navigation")[0]; return JSON.stringify({dcl: n.domContentLoadedEventEnd - n.startTime, load: n.loadEventEnd - n.startTime}); })()`))
	if err != nil {
		return nt, err
	}
	if err := json.Unmarshal([]byte(s), &nt); err != nil {
		return nt, fmt.Errorf("navigation timing %q: %w", s, err)
	}
	if nt.Load <= 0 {
		return nt, fmt.Errorf("navigation timing %q: the load event has not ended", s)
	}
	return nt, nil
}
