package testenv

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Fault is one kind of failure the proxy injects instead of forwarding a request.
type Fault int

const (
	// FaultNone forwards the request to the registry.
	FaultNone Fault = iota
	// Fault500 answers 500 Internal Server Error.
	Fault500
	// Fault429 answers 429 Too Many Requests with a Retry-After header.
	Fault429
	// FaultDrop reads the request, then closes the connection without an answer.
	FaultDrop
	// FaultStall reads the request, waits for FaultOptions.Stall, then closes
	// the connection without an answer.
	FaultStall
	// FaultDown is FaultDrop for every request after FaultOptions.DownAfter:
	// the registry has gone away.
	FaultDown
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case Fault500:
		return "500"
	case Fault429:
		return "429"
	case FaultDrop:
		return "drop"
	case FaultStall:
		return "stall"
	case FaultDown:
		return "down"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// FaultOptions configure StartFaultProxy. The zero value injects faults into
// about 30 % of requests, drawn from all four kinds with seed 0.
type FaultOptions struct {
	// Fraction is the share of requests that get a fault. Zero means 0.3;
	// a negative value injects nothing (the proxy only records).
	Fraction float64
	// Seed makes the sequence of decisions repeatable: the n-th request the
	// proxy receives always gets the same decision for the same seed.
	Seed uint64
	// Faults are the kinds to draw from, equally likely. Empty means all of
	// Fault500, Fault429, FaultDrop and FaultStall.
	Faults []Fault
	// RetryAfter is sent with 429 answers, in whole seconds. Default 1 s.
	RetryAfter time.Duration
	// Stall is how long a stalled request waits before its connection is
	// closed; it should exceed the client's per-request timeout. Default 2 s,
	// at most 30 s.
	Stall time.Duration
	// MaxFaults bounds the faults injected; after that every request is
	// forwarded. Default 1000.
	MaxFaults int
	// DownAfter, if positive, makes the registry go away after that many
	// requests: every later request gets FaultDown.
	DownAfter int
}

// BlobUpload is one blob upload the registry accepted (201 to the PUT, or to
// a monolithic POST, that carried ?digest=).
type BlobUpload struct {
	Repository string
	Digest     string
}

// FaultStats counts what the proxy did. It is safe for concurrent use.
type FaultStats struct {
	mu           sync.Mutex
	requests     int
	arrived      chan struct{} // closed (and replaced) when a request arrives
	faults       map[Fault]int
	uploads      []BlobUpload
	manifestPuts []string
}

// Requests is the number of requests the proxy received.
func (s *FaultStats) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AwaitRequests blocks until the proxy has received more than n requests,
// or ctx or stop is done (then it returns false).
func (s *FaultStats) AwaitRequests(ctx context.Context, n int, stop <-chan struct{}) bool {
	for {
		s.mu.Lock()
		got, arrived := s.requests, s.arrived
		s.mu.Unlock()
		if got > n {
			return true
		}
		select {
		case <-arrived:
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// Faults returns how many faults of each kind were injected.
func (s *FaultStats) Faults() map[Fault]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.faults)
}

// TotalFaults is the number of injected faults of all kinds.
func (s *FaultStats) TotalFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.faults {
		n += v
	}
	return n
}

// Uploads returns every accepted blob upload, in the order they completed.
func (s *FaultStats) Uploads() []BlobUpload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BlobUpload(nil), s.uploads...)
}

// DuplicateUploads returns the blobs the registry accepted more than once
// into the same repository, sorted.
func (s *FaultStats) DuplicateUploads() []BlobUpload {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[BlobUpload]int{}
	for _, u := range s.uploads {
		seen[u]++
	}
	var dups []BlobUpload
	for u, n := range seen {
		if n > 1 {
			dups = append(dups, u)
		}
	}
	sort.Slice(dups, func(i, j int) bool {
		if dups[i].Repository != dups[j].Repository {
			return dups[i].Repository < dups[j].Repository
		}
		return dups[i].Digest < dups[j].Digest
	})
	return dups
}

// ManifestPuts returns "repository:reference" for every manifest PUT the
// registry accepted.
func (s *FaultStats) ManifestPuts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.manifestPuts...)
}

// Reset forgets all counts, so a test can measure one phase alone.
func (s *FaultStats) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = 0
	s.faults = map[Fault]int{}
	s.uploads = nil
	s.manifestPuts = nil
}

func (s *FaultStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("requests=%d faults=%v uploads=%d manifest-puts=%d", s.requests, s.faults, len(s.uploads), len(s.manifestPuts))
}

var (
	blobUploadPath = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/[^/]*$`)
	manifestPath   = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)
)

type faultProxy struct {
	opts    FaultOptions
	stats   *FaultStats
	forward *httputil.ReverseProxy
	closing chan struct{}

	mu     sync.Mutex // guards rng, faults and seen
	rng    *rand.Rand
	faults int
	seen   int
}

// StartFaultProxy starts an HTTP reverse proxy on 127.0.0.1 in front of
// target (host:port) that injects faults as opts say, and returns its
// host:port and its counters. The proxy stops when the test ends.
func StartFaultProxy(t testing.TB, target string, opts FaultOptions) (string, *FaultStats) {
	t.Helper()
	if opts.Fraction == 0 {
		opts.Fraction = 0.3
	}
	if len(opts.Faults) == 0 {
		opts.Faults = []Fault{Fault500, Fault429, FaultDrop, FaultStall}
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.Stall <= 0 {
		opts.Stall = 2 * time.Second
	}
	opts.Stall = min(opts.Stall, 30*time.Second)
	if opts.MaxFaults <= 0 {
		opts.MaxFaults = 1000
	}
	u, err := url.Parse("http://" + target)
	if err != nil {
		t.Fatalf("testenv: proxy target %q: %v", target, err)
	}
	stats := &FaultStats{faults: map[Fault]int{}, arrived: make(chan struct{})}
	p := &faultProxy{
		opts:    opts,
		stats:   stats,
		closing: make(chan struct{}),
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
	}
	upstream := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
	}
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Keep the client's Host so that the registry's Location headers
			// point back through the proxy.
			r.Out.Host = r.In.Host
		},
		Transport: upstream,
		ModifyResponse: func(resp *http.Response) error {
			p.record(resp)
			return nil
		},
		ErrorLog: nil,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: proxy listen: %v", err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		close(p.closing)
		_ = srv.Close()
		upstream.CloseIdleConnections()
	})
	return l.Addr().String(), stats
}

// decide draws the fault for the next request.
func (p *faultProxy) decide() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	if p.opts.DownAfter > 0 && p.seen > p.opts.DownAfter {
		return FaultDown
	}
	draw := p.rng.Float64()
	kind := p.opts.Faults[p.rng.IntN(len(p.opts.Faults))]
	if p.opts.Fraction < 0 || draw >= p.opts.Fraction || p.faults >= p.opts.MaxFaults {
		return FaultNone
	}
	p.faults++
	return kind
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fault := p.decide()
	p.stats.mu.Lock()
	p.stats.requests++
	close(p.stats.arrived)
	p.stats.arrived = make(chan struct{})
	if fault != FaultNone {
		p.stats.faults[fault]++
	}
	p.stats.mu.Unlock()

	if fault == FaultNone {
		p.forward.ServeHTTP(w, r)
		return
	}
	// Read the whole request first, so that the client has sent everything
	// and only then sees the failure; the registry never sees the request.
	_, _ = io.Copy(io.Discard, r.Body)
	switch fault {
	case Fault500:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"injected by the fault proxy"}]}`)
	case Fault429:
		w.Header().Set("Content-Type", "application/json")
		secs := max(1, int(p.opts.RetryAfter.Round(time.Second)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected by the fault proxy"}]}`)
	case FaultStall:
		timer := time.NewTimer(p.opts.Stall)
		select {
		case <-timer.C:
		case <-p.closing:
			timer.Stop()
		case <-r.Context().Done():
			timer.Stop()
		}
		p.hangUp(w)
	case FaultDrop, FaultDown:
		p.hangUp(w)
	}
}

// hangUp closes the client's connection without an answer.
func (p *faultProxy) hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // send RST, as a crashed peer would
	}
	_ = conn.Close()
}

// record notes accepted blob uploads and manifest PUTs.
func (p *faultProxy) record(resp *http.Response) {
	req := resp.Request
	if req == nil || resp.StatusCode != http.StatusCreated {
		return
	}
	switch req.Method {
	case http.MethodPut, http.MethodPost:
		if m := blobUploadPath.FindStringSubmatch(req.URL.Path); m != nil {
			if d := req.URL.Query().Get("digest"); d != "" {
				p.stats.mu.Lock()
				p.stats.uploads = append(p.stats.uploads, BlobUpload{Repository: m[1], Digest: d})
				p.stats.mu.Unlock()
			}
			return
		}
		if m := manifestPath.FindStringSubmatch(req.URL.Path); m != nil && req.Method == http.MethodPut {
			p.stats.mu.Lock()
			p.stats.manifestPuts = append(p.stats.manifestPuts, m[1]+":"+m[2])
			p.stats.mu.Unlock()
		}
	}
}
