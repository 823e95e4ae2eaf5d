package resolve

import (
	"bytes"
	"fmt"
	"github.com/hic-build/hic/compiler/apkindex"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// maxKeySize bounds what is read of a fetched key file: an RSA public key
// in PEM is under 1 KiB for 4096 bits.
const maxKeySize = 64 << 10

// KeyTransport returns a transport that checks each key of pins (keyring
// URL -> apkindex.KeyFingerprint, as compile.Image.KeyPins) fetched through it, for
// a repository apko reads from the network: a key whose content has
// another fingerprint is refused before apko sees it, with an error naming
// the URL and both fingerprints (as the status of a 422 answer). Other requests pass to next unchanged
// (nil: http.DefaultTransport). With no pins it returns next.
func KeyTransport(next http.RoundTripper, pins map[string]string) http.RoundTripper {
	if len(pins) == 0 {
		return next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	k := &keyTransport{next: next, pins: map[string]string{}}
	for u, fp := range pins {
		if p, err := url.Parse(u); err == nil {
			k.pins[p.Host+p.Path] = fp // unescaped: apko may fetch ...%40lists...
		}
	}
	return k
}

type keyTransport struct {
	next    http.RoundTripper
	pins    map[string]string // host + unescaped path -> fingerprint
	refused Refusals
}

// Refusals is what a transport that refuses fetches apko makes keeps: it
// answers each refused request with a 422, which apko reports without
// retrying (an error would be retried, five times over 15 s), and remembers
// the first refusal, since apko reports a refused fetch only by its status
// code. The zero value is ready to use.
type Refusals struct {
	mu    sync.Mutex
	first error
}

// Refuse records err as a refusal of req and returns the 422 answer to it.
func (r *Refusals) Refuse(req *http.Request, err error) *http.Response {
	r.mu.Lock()
	if r.first == nil {
		r.first = err
	}
	r.mu.Unlock()
	return &http.Response{
		StatusCode: http.StatusUnprocessableEntity,
		Status:     fmt.Sprintf("%d %s", http.StatusUnprocessableEntity, err),
		Header:     http.Header{},
		Body:       http.NoBody,
		Request:    req,
	}
}

// Err returns the first refusal, or nil.
func (r *Refusals) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

// KeyError returns the first key a transport KeyTransport made refused, or
// nil: apko reports a refused key only by its status code.
func KeyError(rt http.RoundTripper) error {
	k, ok := rt.(*keyTransport)
	if !ok {
		return nil
	}
	return k.refused.Err()
}

func (k *keyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	want, pinned := k.pins[req.URL.Host+req.URL.Path]
	if !pinned || req.Method != http.MethodGet {
		return k.next.RoundTrip(req)
	}
	resp, err := k.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySize+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", req.URL.Redacted(), err)
	}
	got, err := apkindex.KeyFingerprint(b)
	switch {
	case len(b) > maxKeySize:
		err = fmt.Errorf("key %s: more than %d bytes: not a public key, refused", req.URL.Redacted(), maxKeySize)
	case err != nil:
		err = fmt.Errorf("key %s: %w, refused (the catalog's keyring pins %s)", req.URL.Redacted(), err, want)
	case got != want:
		err = fmt.Errorf("key %s has fingerprint %s, but the catalog's keyring pins %s: refused; the key was replaced, or the pin is stale", req.URL.Redacted(), got, want)
	}
	if err != nil {
		return k.refused.Refuse(req, err), nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}
