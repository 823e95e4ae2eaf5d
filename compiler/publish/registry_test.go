package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/testenv"
)

// Acceptance tests: the real distribution registry process and the real
// cosign CLI, both installed by .ci/tools.sh.

func TestRegistryCosignVerifies(t *testing.T) {
	ctx := context.Background()
	cosign := testenv.Tool(t, "cosign")
	reg := testenv.StartRegistry(t)
	dir := t.TempDir()
	signer := newKey(t)
	images := writeLayout(t, dir, signer, "hic/alpha")

	if err := publish.Publish(ctx, layout.Path(dir), reg+"/cat", publish.Options{}); err != nil {
		t.Fatal(err)
	}
	checkPublished(t, reg, "cat", images)
	checkReferrersAPI(t, reg, "cat/hic/alpha", images[0])

	pub := signer.writePublic(t, dir)
	other := newKey(t).writePublic(t, dir)
	ref := reg + "/cat/hic/alpha:" + images[0].tags[0]
	verify := []string{"verify", "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry", ref}
	attest := []string{"verify-attestation", "--insecure-ignore-tlog", "--allow-http-registry", "--allow-insecure-registry", "--type", "slsaprovenance1", ref}

	for _, tc := range []struct {
		name string
		args []string
		key  string
		ok   bool
		want string
	}{
		{"verify", verify, pub, true, "The signatures were verified against the specified public key"},
		{"verify-attestation", attest, pub, true, "The signatures were verified against the specified public key"},
		{"verify with another key", verify, other, false, "no matching signatures"},
		{"verify-attestation with another key", attest, other, false, "no matching attestations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{tc.args[0], "--key", tc.key}, tc.args[1:]...)
			out, err := runCosign(ctx, t, cosign, dir, args...)
			if tc.ok && err != nil {
				t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if !tc.ok && err == nil {
				t.Fatalf("cosign %s succeeded, want a failure\n%s", strings.Join(args, " "), out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("cosign %s output does not say %q:\n%s", strings.Join(args, " "), tc.want, out)
			}
		})
	}
}

func TestRegistryThroughFaults(t *testing.T) {
	ctx := context.Background()
	reg := testenv.StartRegistry(t)
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{Seed: 2026, Stall: 1500 * time.Millisecond})
	cosign := testenv.Tool(t, "cosign")
	dir := t.TempDir()
	signer := newKey(t)
	images := writeLayout(t, dir, signer, "hic/alpha", "hic/beta")

	// With about 30 % of requests failing, six attempts leave one request in
	// 1,400 failing six times in a row, and which request meets which fault
	// depends on the order requests arrive in; twelve make that one in two
	// million.
	opts := publish.Options{Backoff: 50 * time.Millisecond, MaxBackoff: time.Second, RequestTimeout: time.Second, Attempts: 12}
	if err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", opts); err != nil {
		t.Fatalf("%v\nproxy: %v", err, stats)
	}
	t.Logf("proxy: %v", stats)
	checkPublished(t, reg, "cat", images)
	for _, img := range images {
		checkReferrersAPI(t, reg, "cat/"+img.repo, img)
	}
	if dups := stats.DuplicateUploads(); len(dups) != 0 {
		t.Errorf("blobs uploaded twice after the registry accepted them: %v", dups)
	}
	faults := stats.Faults()
	for _, f := range []testenv.Fault{testenv.Fault500, testenv.Fault429, testenv.FaultDrop, testenv.FaultStall} {
		if faults[f] == 0 {
			t.Errorf("no %v fault was injected: %v", f, stats)
		}
	}
	if share := float64(stats.TotalFaults()) / float64(stats.Requests()); share < 0.2 || share > 0.4 {
		t.Errorf("faults hit %.0f %% of requests, want about 30 %%", 100*share)
	}
	// Publishing again, through the same faults, sends nothing: every blob
	// and manifest is found with HEAD.
	stats.Reset()
	if err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", opts); err != nil {
		t.Fatalf("second publish: %v\nproxy: %v", err, stats)
	}
	if got := stats.Uploads(); len(got) != 0 {
		t.Errorf("second publish uploaded %v", got)
	}
	if got := stats.ManifestPuts(); len(got) != 0 {
		t.Errorf("second publish put manifests %v", got)
	}
	t.Logf("second publish: %v", stats)

	// What arrived is what was signed: cosign verifies it, straight from the registry.
	pub := signer.writePublic(t, dir)
	for _, img := range images {
		ref := reg + "/cat/" + img.repo + ":" + img.tags[1]
		for _, args := range [][]string{
			{"verify", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", ref},
			{"verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", "--type", "slsaprovenance1", ref},
		} {
			if out, err := runCosign(ctx, t, cosign, dir, args...); err != nil {
				t.Errorf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
}

func TestRegistryGoesDown(t *testing.T) {
	// The registry answers the first requests, then goes away in the middle
	// of the push: publish stops after its retries with an error naming the
	// image and the registry, within bounded time.
	ctx := context.Background()
	reg := testenv.StartRegistry(t)
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{Fraction: -1, DownAfter: 12})
	dir := t.TempDir()
	writeLayout(t, dir, newKey(t), "hic/alpha", "hic/beta")
	start := time.Now()
	err := publish.Publish(ctx, layout.Path(dir), proxy+"/cat", publish.Options{Backoff: 100 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("publish succeeded though the registry went down: %v", stats)
	}
	t.Logf("error after %v: %v", elapsed, err)
	// The images are published side by side: either may be the one that
	// meets the dead registry first; the error names it.
	named := strings.Contains(err.Error(), "publish hic/alpha:1.0 to "+proxy+"/cat: ") ||
		strings.Contains(err.Error(), "publish hic/beta:1.1 to "+proxy+"/cat: ")
	if !named || !strings.Contains(err.Error(), "gave up after 6 attempts") {
		t.Errorf("unclear error: %v", err)
	}
	// Each request: 6 attempts with waits of at most 0.1+0.2+0.4+0.8+1.6 s;
	// go-containerregistry retries a failed blob upload at most 3 times.
	if elapsed > 30*time.Second {
		t.Errorf("gave up after %v", elapsed)
	}
}

// checkReferrersAPI checks that a client of the OCI 1.1 referrers API finds
// the image's referrers. distribution v3.1 has no referrers endpoint (it
// answers 404), so there the referrers must be under the fallback tag the
// OCI distribution spec defines, sha256-<hex>, which clients read instead.
func checkReferrersAPI(t *testing.T, reg, repo string, img fixtureImage) {
	t.Helper()
	url := fmt.Sprintf("http://%s/v2/%s/referrers/%s", reg, repo, img.digest)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("referrers API: %v", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		url = fmt.Sprintf("http://%s/v2/%s/manifests/%s-%s", reg, repo, img.digest.Algorithm, img.digest.Hex)
		resp.Body.Close()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", string(types.OCIImageIndex))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("referrers fallback tag: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the registry has no referrers API and GET %s: %s", url, resp.Status)
		}
	default:
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var idx v1.IndexManifest
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	var got []v1.Hash
	for _, m := range idx.Manifests {
		got = append(got, m.Digest)
	}
	if w, g := sortedHashes(img.referrers), sortedHashes(got); strings.Join(w, ",") != strings.Join(g, ",") {
		t.Errorf("GET %s lists %v, want %v", url, g, w)
	}
}

func runCosign(ctx context.Context, t *testing.T, bin, home string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// No network but loopback: cosign looks for Sigstore's TUF root even
	// with a key, so every other address goes to a proxy on a loopback port
	// where nothing listens, and fails at once without a DNS look-up.
	deadProxy := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	cmd.Env = []string{
		"HOME=" + home, "PATH=/usr/bin:/bin", "DOCKER_CONFIG=" + home, "TUF_ROOT=" + home + "/tuf",
		"HTTPS_PROXY=" + deadProxy, "HTTP_PROXY=" + deadProxy, "NO_PROXY=127.0.0.1,localhost",
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func TestRegistryMountsSharedLayers(t *testing.T) {
	// Two repositories with the same image: the second gets its layers by
	// cross-repository mount, and no blob is uploaded twice in all.
	ctx := context.Background()
	reg := testenv.StartRegistry(t)
	proxy, stats := testenv.StartFaultProxy(t, reg, testenv.FaultOptions{Fraction: -1})
	dir := t.TempDir()
	images := writeLayout(t, dir, newKey(t), "hic/alpha")
	p := layout.Path(dir)
	if err := p.AppendIndex(images[0].index, layout.WithAnnotations(map[string]string{publish.AnnotationRefName: "hic/copy:1"})); err != nil {
		t.Fatal(err)
	}
	if err := publish.Publish(ctx, p, proxy+"/cat", publish.Options{}); err != nil {
		t.Fatal(err)
	}
	checkPublished(t, reg, "cat", append(images, fixtureImage{repo: "hic/copy", tags: []string{"1"}, index: images[0].index, digest: images[0].digest, referrers: images[0].referrers}))
	perDigest := map[string][]string{}
	for _, u := range stats.Uploads() {
		perDigest[u.Digest] = append(perDigest[u.Digest], u.Repository)
	}
	im, err := images[0].index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range im.Manifests {
		img, err := images[0].index.Image(c.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range m.Layers {
			if got := perDigest[l.Digest.String()]; len(got) != 1 {
				t.Errorf("layer %s uploaded to %v, want once", l.Digest, got)
			}
		}
	}
}
