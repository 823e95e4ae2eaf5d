package testenv_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/testenv"
)

func TestStartRegistry(t *testing.T) {
	addr := testenv.StartRegistry(t)
	resp, err := http.Get("http://" + addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/: %s", resp.Status)
	}
	if got := resp.Header.Get("Docker-Distribution-Api-Version"); got != "registry/2.0" {
		t.Errorf("Docker-Distribution-Api-Version = %q", got)
	}
}

// outcomes sends n GETs through a fresh proxy and returns what each got.
func outcomes(t *testing.T, opts testenv.FaultOptions, n int) ([]string, *testenv.FaultStats) {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(upstream.Close)
	addr, stats := testenv.StartFaultProxy(t, strings.TrimPrefix(upstream.URL, "http://"), opts)
	// A stalled or dropped request ends in an error when the proxy closes
	// the connection, so the timeout is only a bound: a short one turned a
	// slow answer on a loaded machine into an "error".
	client := &http.Client{Timeout: 30 * time.Second}
	var got []string
	for i := 0; i < n; i++ {
		resp, err := client.Get(fmt.Sprintf("http://%s/v2/x/manifests/%d", addr, i))
		if err != nil {
			got = append(got, "error")
			continue
		}
		resp.Body.Close()
		got = append(got, resp.Status[:3])
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("429 with Retry-After %q, want 1", resp.Header.Get("Retry-After"))
		}
	}
	return got, stats
}

func TestFaultProxyDeterministic(t *testing.T) {
	opts := testenv.FaultOptions{Seed: 42, Stall: 300 * time.Millisecond}
	a, stats := outcomes(t, opts, 60)
	b, _ := outcomes(t, opts, 60)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different faults (-first +second):\n%s", diff)
	}
	if stats.Requests() != 60 {
		t.Errorf("proxy counted %d requests, want 60", stats.Requests())
	}
	faults := stats.Faults()
	for _, f := range []testenv.Fault{testenv.Fault500, testenv.Fault429, testenv.FaultDrop, testenv.FaultStall} {
		if faults[f] == 0 {
			t.Errorf("no %v in 60 requests: %v", f, stats)
		}
	}
	if n := stats.TotalFaults(); n < 8 || n > 30 {
		t.Errorf("%d faults in 60 requests, want about 18", n)
	}
}

func TestFaultProxyBounds(t *testing.T) {
	got, stats := outcomes(t, testenv.FaultOptions{Fraction: 1, MaxFaults: 3, Faults: []testenv.Fault{testenv.Fault500}}, 6)
	if diff := cmp.Diff([]string{"500", "500", "500", "200", "200", "200"}, got); diff != "" {
		t.Errorf("MaxFaults 3 (-want +got):\n%s", diff)
	}
	got, _ = outcomes(t, testenv.FaultOptions{Fraction: -1, DownAfter: 2}, 4)
	if diff := cmp.Diff([]string{"200", "200", "error", "error"}, got); diff != "" {
		t.Errorf("DownAfter 2 (-want +got):\n%s", diff)
	}
	if stats.TotalFaults() != 3 {
		t.Errorf("%d faults, want 3", stats.TotalFaults())
	}
}
