package publish

import (
	"context"
	"errors"
	"fmt"
	"github.com/chainguard-dev/clog"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// maxRetryAfter caps how long a registry's Retry-After can hold one request.
const maxRetryAfter = 60 * time.Second

// retryTransport retries one HTTP request on 408, 429 and 5xx answers and on
// connection failures (resets, refusals, early EOF, timeouts), with
// exponential backoff and full jitter, honouring Retry-After. A request
// whose body cannot be replayed (no GetBody) is sent once: go-containerregistry
// retries those at the level of the whole blob upload, which starts again
// with a HEAD, so a blob the registry accepted is never sent twice.
type retryTransport struct {
	inner    http.RoundTripper
	attempts int
	base     time.Duration
	max      time.Duration
}

// retriesExhausted marks an error after the last attempt, so that the retry
// predicate given to go-containerregistry does not multiply the attempts.
type retriesExhausted struct {
	attempts int
	err      error
}

func (e *retriesExhausted) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts)", e.err, e.attempts)
}

func (e *retriesExhausted) Unwrap() error { return e.err }

// exhaustedKey marks, in the context of a response's request, the number of
// attempts after which the transport gave up on an error status.
type exhaustedKey struct{}

// attemptsSpent returns the attempts after which the transport gave up on
// the answer that err is made of, if it did.
func attemptsSpent(err error) (int, bool) {
	var exhausted *retriesExhausted
	if errors.As(err, &exhausted) {
		return exhausted.attempts, true
	}
	var te *transport.Error
	if errors.As(err, &te) && te.Request != nil {
		if n, ok := te.Request.Context().Value(exhaustedKey{}).(int); ok {
			return n, true
		}
	}
	return 0, false
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.Body != nil && req.Body != http.NoBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replay request body: %w", err)
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := t.inner.RoundTrip(r)
		retry, after := shouldRetry(ctx, resp, err)
		if !retry || !replayable {
			return resp, err
		}
		if attempt >= t.attempts {
			if err != nil {
				return nil, &retriesExhausted{attempts: attempt, err: err}
			}
			// go-containerregistry turns the answer into a transport.Error
			// that keeps resp.Request: mark it so the error says the retries
			// are spent and is not retried again.
			resp.Request = r.WithContext(context.WithValue(r.Context(), exhaustedKey{}, attempt))
			return resp, nil
		}
		delay := t.backoff(attempt)
		if after > delay {
			delay = min(after, maxRetryAfter)
		}
		what := ""
		if err != nil {
			what = err.Error()
		} else {
			what = resp.Status
			// Drain a little so the connection can be reused, then close.
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			resp.Body.Close()
		}
		clog.FromContext(req.Context()).Debug("retrying request", "method", req.Method, "url", redactURL(req), "attempt", attempt, "error", what, "delay", delay)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// backoff is the wait before attempt+1: base·2^(attempt-1), capped, with
// full jitter in [d/2, d).
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.base << (attempt - 1)
	if d <= 0 || d > t.max {
		d = t.max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// shouldRetry says whether a request that ended with resp or err may succeed
// when sent again, and how long the server asked to wait.
func shouldRetry(ctx context.Context, resp *http.Response, err error) (bool, time.Duration) {
	if ctx.Err() != nil {
		return false, 0
	}
	if err != nil {
		return transientError(err), 0
	}
	switch c := resp.StatusCode; {
	case c == http.StatusTooManyRequests, c == http.StatusRequestTimeout:
		return true, retryAfter(resp)
	case c >= 500 && c != http.StatusNotImplemented && c != http.StatusHTTPVersionNotSupported:
		return true, retryAfter(resp)
	}
	return false, 0
}

// transientError reports network failures worth another attempt. Errors
// that will not change (TLS to a plain-HTTP server, bad URLs) are not.
func transientError(err error) bool {
	// net/http's own timeouts also match context.DeadlineExceeded, so the
	// caller's context is checked by the caller, not here.
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if _, spent := attemptsSpent(err); spent {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return false
}

// retryAfter parses a Retry-After header in seconds or as an HTTP date.
func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return time.Until(at)
	}
	return 0
}

// redactURL is the request URL without its query (upload tokens live there).
func redactURL(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	return u.String()
}
