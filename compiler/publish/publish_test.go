package publish_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/testenv"
)

// startInProcessRegistry serves go-containerregistry's in-memory registry
// with the referrers API on 127.0.0.1 (fast unit tests; the acceptance
// tests use the real distribution registry).
func startInProcessRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// fastOptions retry quickly, and time out stalled requests after timeout.
func fastOptions(timeout time.Duration) publish.Options {
	return publish.Options{Backoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, RequestTimeout: timeout}
}

func TestPublishThenNothingTwice(t *testing.T) {
	ctx := context.Background()
	reg := startInProcessRegistry(t)
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{Fraction: -1})
	dir := t.TempDir()
	images := writeLayout(t, dir, newKey(t), "hic/alpha", "hic/beta")

	var events []publish.Event
	opts := fastOptions(5 * time.Second)
	opts.Progress = func(ev publish.Event) { events = append(events, ev) }
	if err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", opts); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("got %d progress events, want 2", len(events))
	}
	checkPublished(t, reg, "cat", images)
	if dups := stats.DuplicateUploads(); len(dups) != 0 {
		t.Errorf("blobs uploaded twice: %v", dups)
	}
	if stats.Uploads() == nil {
		t.Fatal("the proxy saw no uploads")
	}

	// A second publish finds everything in place and sends nothing: one
	// tag list per repository and one HEAD of each image's input tag (and
	// the registry ping and token exchange once per repository), not one
	// per tag, manifest, referrer and cosign tag.
	stats.Reset()
	events = nil
	if err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", opts); err != nil {
		t.Fatal(err)
	}
	if got := stats.Uploads(); len(got) != 0 {
		t.Errorf("second publish uploaded %d blobs: %v", len(got), got)
	}
	if got := stats.ManifestPuts(); len(got) != 0 {
		t.Errorf("second publish put %d manifests: %v", len(got), got)
	}
	for _, ev := range events {
		if !ev.Unchanged {
			t.Errorf("second publish: %s not unchanged", ev.Ref)
		}
	}
	if n, most := stats.Requests(), len(images)*(2+2); n > most {
		t.Errorf("second publish sent %d requests, want at most %d (%v)", n, most, stats)
	} else {
		t.Logf("second publish: %d requests for %d images", n, len(images))
	}

	// publishAgain publishes the layout again and returns the digests of
	// the images pushed (not unchanged).
	publishAgain := func(opts publish.Options) []v1.Hash {
		t.Helper()
		stats.Reset()
		events = nil
		if err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", opts); err != nil {
			t.Fatal(err)
		}
		var pushed []v1.Hash
		for _, ev := range events {
			if !ev.Unchanged {
				pushed = append(pushed, ev.Digest)
			}
		}
		if got := stats.Uploads(); len(got) != 0 {
			t.Errorf("uploaded %d blobs to put a tag back: %v", len(got), got)
		}
		return pushed
	}
	latest, err := name.NewTag(reg+"/cat/"+images[0].repo+":latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	named := func(tag name.Tag) v1.Hash {
		t.Helper()
		desc, err := remote.Head(tag)
		if err != nil {
			t.Fatal(err)
		}
		return desc.Digest
	}

	// A tag lost in the registry (deleted) is put back: that image is
	// pushed again (everything else found in place), the other one stays
	// unchanged.
	if err := remote.Delete(latest); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]v1.Hash{images[0].digest}, publishAgain(opts)); diff != "" {
		t.Errorf("images pushed after one tag was deleted (-want +got):\n%s", diff)
	}
	if got := named(latest); got != images[0].digest {
		t.Errorf("%s names %s after the publish, want %s", latest, got, images[0].digest)
	}

	// A tag moved to another image in the registry is listed, so the image
	// is found whole (hic verify against the registry finds the moved
	// tag); with CheckTags the tag is put back.
	other, err := random.Index(64, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(latest, other); err != nil {
		t.Fatal(err)
	}
	if got := publishAgain(opts); len(got) != 0 {
		t.Errorf("pushed %v after a tag moved, want nothing without CheckTags", got)
	}
	checked := opts
	checked.CheckTags = true
	if diff := cmp.Diff([]v1.Hash{images[0].digest}, publishAgain(checked)); diff != "" {
		t.Errorf("images pushed with CheckTags after one tag moved (-want +got):\n%s", diff)
	}
	if got := named(latest); got != images[0].digest {
		t.Errorf("%s names %s after the publish with CheckTags, want %s", latest, got, images[0].digest)
	}
}

func TestPublishSelectedRefs(t *testing.T) {
	ctx := context.Background()
	reg := startInProcessRegistry(t)
	dir := t.TempDir()
	images := writeLayout(t, dir, newKey(t), "hic/alpha", "hic/beta")

	if err := publish.Publish(ctx, layout.Path(dir), reg, fastOptions(5*time.Second), "hic/beta:latest"); err != nil {
		t.Fatal(err)
	}
	got := listTags(t, reg, "hic/beta")
	input, _ := publish.InputTag(fmt.Sprintf("sha256:%064x", 2))
	want := []string{"latest", input, publish.CosignTag(images[1].digest, "att"), publish.CosignTag(images[1].digest, "sig")}
	im, _ := images[1].index.IndexManifest()
	want = append(want, publish.CosignTag(im.Manifests[0].Digest, "att"))
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags of hic/beta (-want +got):\n%s", diff)
	}
	if tags := listTags(t, reg, "hic/alpha"); len(tags) != 0 {
		t.Errorf("hic/alpha was not selected but has tags %v", tags)
	}

	err := publish.Publish(ctx, layout.Path(dir), reg, fastOptions(time.Second), "hic/gamma")
	if err == nil || !strings.Contains(err.Error(), `no image matches "hic/gamma"`) {
		t.Errorf("unknown ref: got error %v", err)
	}
}

func TestPublishThroughFaults(t *testing.T) {
	ctx := context.Background()
	reg := startInProcessRegistry(t)
	// 429s make the client wait whole seconds (Retry-After); they are left
	// to TestRetryAfter and to the acceptance test against the real registry.
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{
		Seed:   7,
		Stall:  300 * time.Millisecond,
		Faults: []testenv.Fault{testenv.Fault500, testenv.FaultDrop, testenv.FaultStall},
	})
	dir := t.TempDir()
	images := writeLayout(t, dir, newKey(t), "hic/alpha", "hic/beta", "hic/gamma")

	opts := fastOptions(120 * time.Millisecond)
	opts.Attempts = 12 // as in TestRegistryThroughFaults: no request may meet a fault six times running
	if err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", opts); err != nil {
		t.Fatalf("%v\nproxy: %v", err, stats)
	}
	checkPublished(t, reg, "cat", images)
	if dups := stats.DuplicateUploads(); len(dups) != 0 {
		t.Errorf("blobs uploaded twice after the registry accepted them: %v", dups)
	}
	faults := stats.Faults()
	for _, f := range []testenv.Fault{testenv.Fault500, testenv.FaultDrop, testenv.FaultStall} {
		if faults[f] == 0 {
			t.Errorf("no %v fault was injected: %v", f, stats)
		}
	}
	t.Logf("proxy: %v", stats)
}

func TestRetryAfter(t *testing.T) {
	ctx := context.Background()
	reg := startInProcessRegistry(t)
	// The first two requests get a 429 with Retry-After: 1 (the probe of
	// the input tag, which answers "not there" and is not retried, and the
	// push's first request); then all pass.
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{
		Fraction: 1, MaxFaults: 2, Faults: []testenv.Fault{testenv.Fault429},
	})
	dir := t.TempDir()
	images := writeLayout(t, dir, newKey(t), "hic/alpha")
	start := time.Now()
	if err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", fastOptions(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("published in %v: the 1 s Retry-After was not honoured", elapsed)
	}
	if got := stats.Faults()[testenv.Fault429]; got != 2 {
		t.Errorf("%d 429s injected, want 2", got)
	}
	checkPublished(t, reg, "cat", images)
}

func TestPersistentServerError(t *testing.T) {
	// A registry that answers only 500 gets exactly Attempts requests for
	// the push, after one for the probe of the image's input tag (never
	// retried), and the error says so.
	ctx := context.Background()
	reg := startInProcessRegistry(t)
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{Fraction: 1, Faults: []testenv.Fault{testenv.Fault500}})
	dir := t.TempDir()
	writeLayout(t, dir, newKey(t), "hic/alpha")
	opts := fastOptions(time.Second)
	opts.Attempts = 4
	err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", opts)
	if err == nil {
		t.Fatal("publish succeeded against a failing registry")
	}
	for _, want := range []string{"publish hic/alpha:1.0 to " + proxy + "/cat: ", "UNKNOWN: injected by the fault proxy", "gave up after 4 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if got := stats.Requests(); got != 1+4 {
		t.Errorf("the registry got %d requests, want 1+4", got)
	}
}

func TestRegistryDown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeLayout(t, dir, newKey(t), "hic/alpha")
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) // nothing listens there

	start := time.Now()
	opts := fastOptions(time.Second)
	opts.Attempts = 4
	err := publish.Publish(ctx, layout.Path(dir), addr+"/cat", opts)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("publish to a registry that is down succeeded")
	}
	for _, want := range []string{"hic/alpha:1.0", addr + "/cat", "connection refused", "gave up after 4 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if elapsed > 10*time.Second {
		t.Errorf("gave up after %v, want a bounded few seconds", elapsed)
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	writeLayout(t, dir, newKey(t), "hic/alpha")
	err := publish.Publish(ctx, layout.Path(dir), startInProcessRegistry(t)+"/cat", fastOptions(time.Second))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestParseDestination(t *testing.T) {
	for _, tc := range []struct {
		in, repo, want string
		bad            bool
	}{
		{in: "127.0.0.1:5000/hic", repo: "nginx", want: "127.0.0.1:5000/hic/nginx"},
		{in: "localhost:5000", repo: "a/b", want: "localhost:5000/a/b"},
		{in: "ghcr.io/org/images/", repo: "nginx", want: "ghcr.io/org/images/nginx"},
		{in: "", bad: true},
		{in: "ghcr.io/UPPER", bad: true},
	} {
		d, err := publish.ParseDestination(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseDestination(%q) succeeded, want an error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDestination(%q): %v", tc.in, err)
			continue
		}
		r, err := d.Repository(tc.repo)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.String(); got != tc.want {
			t.Errorf("ParseDestination(%q).Repository(%q) = %q, want %q", tc.in, tc.repo, got, tc.want)
		}
		if insecure := r.Scheme() == "http"; insecure != strings.HasPrefix(tc.in, "127.") && insecure != strings.HasPrefix(tc.in, "localhost") {
			t.Errorf("%q: scheme %s", tc.in, r.Scheme())
		}
	}
}

// checkPublished reads back from the registry at reg (directly, not through
// any proxy) that every image is under all its tags with its digest, that
// the referrers API lists its referrers, and that cosign's tags exist.
func checkPublished(t *testing.T, reg, prefix string, images []fixtureImage) {
	t.Helper()
	for _, img := range images {
		repo, err := name.NewRepository(reg+"/"+prefix+"/"+img.repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range img.tags {
			desc, err := remote.Head(repo.Tag(tag))
			if err != nil {
				t.Errorf("%s:%s: %v", repo, tag, err)
				continue
			}
			if desc.Digest != img.digest {
				t.Errorf("%s:%s is %s, want %s", repo, tag, desc.Digest, img.digest)
			}
		}
		idx, err := remote.Index(repo.Digest(img.digest.String()))
		if err != nil {
			t.Errorf("%s@%s: %v", repo, img.digest, err)
			continue
		}
		// Every manifest and blob below the index is there.
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range im.Manifests {
			cimg, err := idx.Image(c.Digest)
			if err != nil {
				t.Fatal(err)
			}
			ls, err := cimg.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				d, _ := l.Digest()
				if _, err := remote.Layer(repo.Digest(d.String())); err != nil {
					t.Errorf("%s: layer %s: %v", repo, d, err)
				}
				rc, err := l.Compressed()
				if err != nil {
					t.Errorf("%s: layer %s: %v", repo, d, err)
					continue
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					t.Errorf("%s: layer %s: %v", repo, d, err)
				}
			}
		}
		refs, err := remote.Referrers(repo.Digest(img.digest.String()))
		if err != nil {
			t.Errorf("%s: referrers of %s: %v", repo, img.digest, err)
			continue
		}
		rim, err := refs.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var got []v1.Hash
		for _, r := range rim.Manifests {
			got = append(got, r.Digest)
		}
		if diff := cmp.Diff(sortedHashes(img.referrers), sortedHashes(got)); diff != "" {
			t.Errorf("%s: referrers of %s (-want +got):\n%s", repo, img.digest, diff)
		}
		for _, suffix := range []string{"sig", "att"} {
			tag := repo.Tag(publish.CosignTag(img.digest, suffix))
			cimg, err := remote.Image(tag)
			if err != nil {
				t.Errorf("%s: %v", tag, err)
				continue
			}
			m, err := cimg.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Layers) != 1 {
				t.Errorf("%s has %d layers, want 1", tag, len(m.Layers))
			}
		}
		// The platform manifest's provenance: predicate type read from the envelope.
		tag := repo.Tag(publish.CosignTag(im.Manifests[0].Digest, "att"))
		att, err := remote.Image(tag)
		if err != nil {
			t.Errorf("%s: %v", tag, err)
			continue
		}
		m, err := att.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		want := []v1.Descriptor{{MediaType: publish.MediaTypeDSSE, Annotations: map[string]string{
			publish.AnnotationPredicateType: slsaProvenanceV1, publish.AnnotationSignature: "",
		}}}
		if diff := cmp.Diff(want, m.Layers, cmpopts.IgnoreFields(v1.Descriptor{}, "Digest", "Size")); diff != "" {
			t.Errorf("%s layers (-want +got):\n%s", tag, diff)
		}
	}
}

func sortedHashes(hs []v1.Hash) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.String())
	}
	sort.Strings(out)
	return out
}

func listTags(t *testing.T, reg, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(reg+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r)
	if err != nil {
		if strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return nil
		}
		t.Fatalf("list %s: %v", r, err)
	}
	sort.Strings(tags)
	return tags
}

// refuseTagList answers the registry's tag list with 405 UNSUPPORTED, as a
// registry that does not offer it does, and counts the HEAD requests.
type refuseTagList struct {
	inner http.RoundTripper
	mu    sync.Mutex
	heads int
}

func (r *refuseTagList) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/tags/list") {
		body := `{"errors":[{"code":"UNSUPPORTED","message":"the operation is unsupported"}]}`
		return &http.Response{StatusCode: http.StatusMethodNotAllowed, Status: "405 Method Not Allowed", Request: req,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}, nil
	}
	if req.Method == http.MethodHead {
		r.mu.Lock()
		r.heads++
		r.mu.Unlock()
	}
	return r.inner.RoundTrip(req)
}

// Without the registry's tag list, an image found whole costs one HEAD of
// its input tag and one per tag, and is still found whole.
func TestPublishWithoutTagList(t *testing.T) {
	ctx := context.Background()
	reg := startInProcessRegistry(t)
	dir := t.TempDir()
	images := writeLayout(t, dir, newKey(t), "hic/alpha", "hic/beta")
	rt := &refuseTagList{inner: http.DefaultTransport}
	opts := fastOptions(5 * time.Second)
	opts.Transport = rt
	if err := publish.Publish(ctx, layout.Path(dir), reg+"/cat", opts); err != nil {
		t.Fatal(err)
	}
	checkPublished(t, reg, "cat", images)
	var events []publish.Event
	opts.Progress = func(ev publish.Event) { events = append(events, ev) }
	rt.heads = 0
	if err := publish.Publish(ctx, layout.Path(dir), reg+"/cat", opts); err != nil {
		t.Fatal(err)
	}
	if len(events) != len(images) {
		t.Fatalf("got %d events, want %d", len(events), len(images))
	}
	for _, ev := range events {
		if !ev.Unchanged {
			t.Errorf("second publish without a tag list: %s not unchanged", ev.Ref)
		}
	}
	want := 0
	for _, img := range images {
		want += 1 + len(img.tags)
	}
	if rt.heads != want {
		t.Errorf("second publish sent %d HEAD requests, want %d (the input tag and each tag of each image)", rt.heads, want)
	}
}

// TestTruncatedChunkRetriedWhole: the registry stores only part of a
// blob's PATCH and acknowledges it (as a registry does that copies a body
// whose connection broke, then answers a retry), so the commit fails with
// DIGEST_INVALID. The upload is retried whole, from a new upload session,
// and the publish succeeds.
func TestTruncatedChunkRetriedWhole(t *testing.T) {
	ctx := context.Background()
	reg := startInProcessRegistry(t)
	var mu sync.Mutex
	truncated, digestInvalid := 0, 0
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		mu.Lock()
		if r.Method == http.MethodPatch && truncated == 0 && len(body) > 1 {
			body = body[:len(body)/2]
			truncated++
		}
		mu.Unlock()
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+reg+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(answer), "DIGEST_INVALID") {
			mu.Lock()
			digestInvalid++
			mu.Unlock()
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(answer)
	}))
	t.Cleanup(proxy.Close)
	dir := t.TempDir()
	images := writeLayout(t, dir, newKey(t), "hic/alpha")
	if err := publish.Publish(ctx, layout.Path(dir), strings.TrimPrefix(proxy.URL, "http://")+"/cat", fastOptions(5*time.Second)); err != nil {
		t.Fatalf("publish after a truncated chunk: %v", err)
	}
	checkPublished(t, reg, "cat", images)
	mu.Lock()
	defer mu.Unlock()
	if truncated != 1 || digestInvalid != 1 {
		t.Errorf("%d PATCH bodies truncated, %d commits refused as DIGEST_INVALID; want 1 and 1 (the case this test is about)", truncated, digestInvalid)
	}
}
