package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/chainguard-dev/clog"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hic-build/hic/compiler/report"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type status struct {
	Ref, Status string
	Failing     int
}

func statuses(r *report.Report) []status {
	var out []status
	for _, s := range r.Specs {
		out = append(out, status{s.Ref, s.Status, countFailing(s)})
	}
	return out
}

func testCatalog() []compile.Image {
	return []compile.Image{spec("redis", "8.2"), spec("nginx", "1.29"), spec("broken", "1"), spec("suid", "2"), spec("nosbom", "3"), spec("unresolvable", "4")}
}

func TestRunBuildsThenCaches(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	s := openStore(t, filepath.Join(out, "oci"))
	fb := &fakeBuilder{
		resolveErr: map[string]error{"unresolvable:4-wolfi-runtime": errors.New("no package nope")},
		buildErr:   map[string]error{"broken:1-wolfi-runtime": errors.New("checksum mismatch for package app")},
		extra:      map[string][]tarEntry{"suid:2-wolfi-runtime": {{name: "usr/bin/su", mode: 0o4755, data: "su"}}},
		sbomDrops:  map[string]string{"nosbom:3-wolfi-runtime": "baselayout"},
	}
	var progress bytes.Buffer
	opts := Options{Store: s, Builder: fb, Jobs: 2, HicVersion: "v0.1.0", ReportPath: filepath.Join(out, "report.json"), Progress: &progress}
	r, err := Run(ctx, testCatalog(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []status{
		{"broken:1-wolfi-runtime", report.StatusFailed, 0},
		{"nginx:1.29-wolfi-runtime", report.StatusBuilt, 0},
		// A failing post-build check fails the spec (one per platform).
		{"nosbom:3-wolfi-runtime", report.StatusFailed, 2},
		{"redis:8.2-wolfi-runtime", report.StatusBuilt, 0},
		{"suid:2-wolfi-runtime", report.StatusFailed, 2},
		{"unresolvable:4-wolfi-runtime", report.StatusFailed, 0},
	}
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Fatalf("first run (-want +got):\n%s", diff)
	}
	if !r.Failed() {
		t.Error("Report.Failed() = false with failed specs")
	}
	if got := r.Specs[0].Error; !strings.Contains(got, "broken:1-wolfi-runtime: build: checksum mismatch for package app") {
		t.Errorf("error = %q, want it to name the spec and the cause", got)
	}
	if got := r.Specs[4].Findings[0]; got.Rule != inspect.RuleSetuid || got.Pos.File != "suid/image.cue" || !strings.Contains(got.Message, "/usr/bin/su is setuid (mode 4755)") {
		t.Errorf("suid finding = %+v", got)
	}
	// The failing image is kept untagged, unsigned, out of Lookup.
	suid := r.Specs[4]
	if _, ok := s.Lookup(suid.Ref); ok {
		t.Errorf("%s failed a post-build check but has a stored, tagged image", suid.Ref)
	}
	if rej, ok := s.Rejected(suid.Ref); !ok || rej.Digest.String() != suid.RejectedDigest || suid.ImageDigest != "" {
		t.Errorf("%s: rejected entry %v %v, report rejectedDigest %q imageDigest %q", suid.Ref, rej, ok, suid.RejectedDigest, suid.ImageDigest)
	}
	if !strings.Contains(suid.Error, "post-build checks failed (fs-setuid: linux/amd64: /usr/bin/su is setuid") || !strings.Contains(suid.Error, suid.RejectedDigest+" is not tagged") {
		t.Errorf("%s: error %q", suid.Ref, suid.Error)
	}
	if r.Counts != (report.Counts{Built: 2, Failed: 4, FailingFindings: 4}) {
		t.Errorf("counts = %+v", r.Counts)
	}

	// The store holds the built specs, with tags, SBOMs and findings.
	if err := store.Validate(s.Dir()); err != nil {
		t.Fatalf("layout invalid: %v", err)
	}
	rec, ok := s.Lookup("nginx:1.29-wolfi-runtime")
	if !ok {
		t.Fatal("nginx not in store")
	}
	if diff := cmp.Diff([]string{"nginx:1.29", "nginx:1.29-wolfi"}, rec.Refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	if rec.Descriptor.Digest.String() != r.Specs[1].ImageDigest || rec.InputDigest != r.Specs[1].InputDigest {
		t.Errorf("store record %+v does not match report %+v", rec, r.Specs[1])
	}
	sboms, err := s.Referrers(rec.Descriptor.Digest, ArtifactTypeSPDX)
	if err != nil || len(sboms) != 1 {
		t.Errorf("index SBOM referrers = %d, %v; want 1", len(sboms), err)
	}
	ii, err := s.ImageIndex(rec.Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ii.IndexManifest()
	for _, d := range im.Manifests {
		if ps, err := s.Referrers(d.Digest, ArtifactTypeSPDX); err != nil || len(ps) != 1 {
			t.Errorf("platform %s SBOM referrers = %d, %v; want 1", d.Platform, len(ps), err)
		}
	}
	for _, ref := range []string{"broken:1-wolfi-runtime", "unresolvable:4-wolfi-runtime"} {
		if _, ok := s.Lookup(ref); ok {
			t.Errorf("failed spec %s is in the store", ref)
		}
	}

	// report.json is the report, ordered by ref.
	disk, err := report.ReadReport(opts.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, disk); diff != "" {
		t.Errorf("report.json differs (-run +disk):\n%s", diff)
	}
	if !strings.Contains(progress.String(), "] built nginx:1.29-wolfi-runtime ") || !strings.Contains(progress.String(), "2 built, 0 cached, 4 failed") {
		t.Errorf("progress output:\n%s", progress.String())
	}

	// Second run: nothing changed, so built specs are cached without calling
	// Build, failed ones (and rejected images) are retried.
	r2, err := Run(ctx, testCatalog(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want2 := []status{
		{"broken:1-wolfi-runtime", report.StatusFailed, 0},
		{"nginx:1.29-wolfi-runtime", report.StatusCached, 0},
		{"nosbom:3-wolfi-runtime", report.StatusFailed, 2},
		{"redis:8.2-wolfi-runtime", report.StatusCached, 0},
		{"suid:2-wolfi-runtime", report.StatusFailed, 2},
		{"unresolvable:4-wolfi-runtime", report.StatusFailed, 0},
	}
	if diff := cmp.Diff(want2, statuses(r2)); diff != "" {
		t.Fatalf("second run (-want +got):\n%s", diff)
	}
	for ref, n := range map[string]int{"nginx:1.29-wolfi-runtime": 1, "suid:2-wolfi-runtime": 2, "broken:1-wolfi-runtime": 2} {
		if got := fb.buildCount(ref); got != n {
			t.Errorf("Build(%s) called %d times, want %d", ref, got, n)
		}
	}
	if diff := cmp.Diff(r.Specs[4].Findings, r2.Specs[4].Findings); diff != "" {
		t.Errorf("rebuilt findings differ (-first +second):\n%s", diff)
	}
	for i := range r.Specs {
		if r.Specs[i].ImageDigest != r2.Specs[i].ImageDigest || r.Specs[i].RejectedDigest != r2.Specs[i].RejectedDigest {
			t.Errorf("%s: image digest %s, cached %s", r.Specs[i].Ref, r.Specs[i].ImageDigest, r2.Specs[i].ImageDigest)
		}
	}
}

// TestFailingRebuildKeepsTags: a spec whose rebuild fails a post-build check
// keeps its good image and tags; the failing image is stored untagged; a
// good rebuild then replaces both.
func TestFailingRebuildKeepsTags(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	fb := &fakeBuilder{extra: map[string][]tarEntry{}}
	imgs := []compile.Image{spec("app", "1")}
	ref := imgs[0].Ref
	if _, err := Run(ctx, imgs, Options{Store: s, Builder: fb, HicVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	good, ok := s.Lookup(ref)
	if !ok || len(good.Refs) == 0 {
		t.Fatalf("good build: record %+v %v", good, ok)
	}

	// The next version of the spec ships a setuid binary.
	imgs[0].Config.Environment = map[string]string{"V": "2"}
	fb.extra[ref] = []tarEntry{{name: "usr/bin/su", mode: 0o4755, data: "su"}}
	r, err := Run(ctx, imgs, Options{Store: s, Builder: fb, HicVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	sr := r.Specs[0]
	if sr.Status != report.StatusFailed || sr.RejectedDigest == "" || sr.RejectedDigest == good.Descriptor.Digest.String() {
		t.Fatalf("failing rebuild: %+v", sr)
	}
	if !strings.Contains(sr.Error, "its earlier image "+good.Descriptor.Digest.String()+" keeps the tags") {
		t.Errorf("error does not say the earlier image keeps its tags: %s", sr.Error)
	}
	if after, _ := s.Lookup(ref); !cmp.Equal(good, after) {
		t.Errorf("good image's record changed: %+v -> %+v", good, after)
	}
	if _, ok := s.Rejected(ref); !ok {
		t.Error("no rejected entry")
	}
	if err := store.Validate(s.Dir()); err != nil {
		t.Fatal(err)
	}
	// gc keeps both: the good image is tagged, the rejected one listed.
	if _, _, err := s.GC(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := store.Validate(s.Dir()); err != nil {
		t.Fatalf("after gc: %v", err)
	}

	// Fixed: the good rebuild takes the tags and drops the rejected entry.
	delete(fb.extra, ref)
	imgs[0].Config.Environment = map[string]string{"V": "3"}
	r, err = Run(ctx, imgs, Options{Store: s, Builder: fb, HicVersion: "v1"})
	if err != nil || r.Specs[0].Status != report.StatusBuilt {
		t.Fatalf("fixed rebuild: %+v %v", r.Specs[0], err)
	}
	if after, _ := s.Lookup(ref); after.Descriptor.Digest.String() != r.Specs[0].ImageDigest || !cmp.Equal(after.Refs, good.Refs) {
		t.Errorf("fixed image record %+v", after)
	}
	if _, ok := s.Rejected(ref); ok {
		t.Error("the rejected entry outlived a good rebuild")
	}
}

// TestDamagedCacheIsRebuilt: a cached image with a blob that no longer
// hashes to its name is rebuilt, not reported cached, and the blob repaired.
func TestDamagedCacheIsRebuilt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	fb := &fakeBuilder{}
	imgs := []compile.Image{spec("app", "1")}
	r, err := Run(ctx, imgs, Options{Store: s, Builder: fb, HicVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	idx, err := s.ImageIndex(mustHash(t, r.Specs[0].ImageDigest))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	h, _ := ls[0].Digest()
	blob := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir)
	var logs bytes.Buffer
	logCtx := clog.WithLogger(ctx, clog.NewLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	r2, err := Run(logCtx, imgs, Options{Store: s2, Builder: fb, HicVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Specs[0].Status != report.StatusBuilt || r2.Specs[0].ImageDigest != r.Specs[0].ImageDigest {
		t.Errorf("damaged cache: %+v, want built %s", r2.Specs[0], r.Specs[0].ImageDigest)
	}
	if !strings.Contains(logs.String(), "cached image is damaged") || !strings.Contains(logs.String(), h.String()) {
		t.Errorf("no warning naming the damaged blob %s:\n%s", h, logs.String())
	}
	if err := store.Validate(dir); err != nil {
		t.Errorf("the rebuild did not repair the layout: %v", err)
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestChangedSpecIsRebuiltOthersUntouched(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	fb := &fakeBuilder{}
	imgs := []compile.Image{spec("a", "1"), spec("b", "1")}
	if _, err := Run(ctx, imgs, Options{Store: s, Builder: fb, HicVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	bBefore, _ := s.Lookup("b:1-wolfi-runtime")
	aBefore, _ := s.Lookup("a:1-wolfi-runtime")

	imgs[0].Config.Environment = map[string]string{"FOO": "bar"}
	r, err := Run(ctx, imgs, Options{Store: s, Builder: fb, HicVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]status{{"a:1-wolfi-runtime", report.StatusBuilt, 0}, {"b:1-wolfi-runtime", report.StatusCached, 0}}, statuses(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	aAfter, _ := s.Lookup("a:1-wolfi-runtime")
	if aAfter.InputDigest == aBefore.InputDigest {
		t.Error("a's input digest did not change")
	}
	if bAfter, _ := s.Lookup("b:1-wolfi-runtime"); !cmp.Equal(bBefore, bAfter) {
		t.Errorf("b's entry changed: %+v -> %+v", bBefore, bAfter)
	}
	// A new hic version invalidates every spec.
	r, err = Run(ctx, imgs, Options{Store: s, Builder: fb, HicVersion: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts.Built != 2 {
		t.Errorf("after a hic upgrade built %d, want 2", r.Counts.Built)
	}
}

func TestRunCancel(t *testing.T) {
	s := openStore(t, t.TempDir())
	var imgs []compile.Image
	block := map[string]bool{}
	for i := range 8 {
		img := spec(fmt.Sprintf("img%d", i), "1")
		imgs = append(imgs, img)
		if i >= 2 {
			block[img.Ref] = true // the first two finish, the rest hang until cancelled
		}
	}
	fb := &fakeBuilder{block: block, started: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		blocked := 0
		for ref := range fb.started {
			if block[ref] {
				if blocked++; blocked == 2 { // both workers stuck in a build
					cancel()
					return
				}
			}
		}
	}()
	reportPath := filepath.Join(t.TempDir(), "report.json")
	r, err := Run(ctx, imgs, Options{Store: s, Builder: fb, Jobs: 2, ReportPath: reportPath})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if r.Status != report.StatusCancelled || !r.Failed() {
		t.Errorf("report status %q, Failed %v; want cancelled, true", r.Status, r.Failed())
	}
	if r.Counts.Built != 2 || r.Counts.Cancelled != 6 {
		t.Errorf("counts = %+v, want 2 built, 6 cancelled", r.Counts)
	}
	for _, sp := range r.Specs {
		_, stored := s.Lookup(sp.Ref)
		if stored != (sp.Status == report.StatusBuilt) {
			t.Errorf("%s: status %s, in store %v", sp.Ref, sp.Status, stored)
		}
	}
	if err := store.Validate(s.Dir()); err != nil {
		t.Errorf("layout invalid after cancel: %v", err)
	}
	disk, err := report.ReadReport(reportPath)
	if err != nil || disk.Status != report.StatusCancelled {
		t.Errorf("report.json status = %v, %v; want cancelled", disk, err)
	}
}

func TestRunAbandonsBuildsThatIgnoreCancellation(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	imgs := []compile.Image{spec("a-slow", "1"), spec("b-slower", "1"), spec("c-never", "1")} // in ref order: Run starts them so
	fb := &fakeBuilder{stubborn: map[string]bool{imgs[0].Ref: true, imgs[1].Ref: true}, release: make(chan struct{}), started: make(chan string, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-fb.started
		<-fb.started
		cancel()
	}()
	// The pipeline logs when an abandoned build finally ends.
	ended := make(chan string, 2)
	log := slog.New(&recordHandler{msg: "abandoned build ended", out: ended})
	// The stubborn builds cannot end before release is closed, so Run
	// returning at all shows it abandoned them.
	r, err := Run(clog.WithLogger(ctx, clog.NewLogger(log)), imgs, Options{Store: s, Builder: fb, Jobs: 2, CancelGrace: time.Millisecond})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if r.Counts.Cancelled != 3 {
		t.Errorf("counts = %+v, want 3 cancelled", r.Counts)
	}
	close(fb.release) // the abandoned builds now finish and try to go on
	for range 2 {
		<-ended
	}
	for _, img := range imgs {
		if _, ok := s.Lookup(img.Ref); ok {
			t.Errorf("abandoned build of %s reached the store", img.Ref)
		}
	}
	if err := store.Validate(dir); err != nil {
		t.Error(err)
	}
	if r.Specs[0].Status != report.StatusCancelled {
		t.Errorf("report changed after Run returned: %+v", r.Specs[0])
	}
}

// recordHandler sends the ref of every log record with message msg to out.
type recordHandler struct {
	msg string
	out chan<- string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		ref := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "ref" {
				ref = a.Value.String()
			}
			return true
		})
		h.out <- ref
	}
	return nil
}

// TestRunBoundsParallelism: builds wait at a gate; the test lets one
// through only once Jobs builds are in flight, so the most in flight at
// once is exactly Jobs when the bound holds and more when it does not.
func TestRunBoundsParallelism(t *testing.T) {
	tests := []struct{ jobs, want int32 }{{1, 1}, {3, 3}}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.jobs), func(t *testing.T) {
			s := openStore(t, t.TempDir())
			const n = 9
			var imgs []compile.Image
			for i := range n {
				imgs = append(imgs, spec(fmt.Sprintf("p%d", i), "1"))
			}
			fb := &fakeBuilder{gate: make(chan struct{}), started: make(chan string, n)}
			go func() {
				released := 0
				for i := 1; i <= n; i++ {
					<-fb.started
					if i >= int(tc.want) {
						fb.gate <- struct{}{}
						released++
					}
				}
				for ; released < n; released++ {
					fb.gate <- struct{}{}
				}
			}()
			r, err := Run(context.Background(), imgs, Options{Store: s, Builder: fb, Jobs: int(tc.jobs)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Counts.Built != n {
				t.Fatalf("built %d, want %d", r.Counts.Built, n)
			}
			if got := fb.maxInflight.Load(); got != tc.want {
				t.Errorf("max concurrent builds = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	s := openStore(t, t.TempDir())
	tests := []struct {
		name string
		imgs []compile.Image
		opts Options
	}{
		{"no store", nil, Options{Builder: &fakeBuilder{}}},
		{"no builder", nil, Options{Store: s}},
		{"duplicate spec", []compile.Image{spec("a", "1"), spec("a", "1")}, Options{Store: s, Builder: &fakeBuilder{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tc.imgs, tc.opts); err == nil {
				t.Error("Run succeeded")
			}
		})
	}
}

func TestInputDigest(t *testing.T) {
	base := spec("a", "1")
	lock := fakeLock{Ref: base.Ref, Packages: []string{"app=1"}}
	v := Versions{Hic: "v1", Apko: "v0.30.34"}
	d0, err := InputDigest(base, lock, v, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d0, "sha256:") || len(d0) != 71 {
		t.Fatalf("digest %q", d0)
	}
	withEnv := func(env map[string]string) compile.Image {
		i := spec("a", "1")
		i.Config.Environment = env
		return i
	}
	tests := []struct {
		name  string
		img   compile.Image
		lock  Lock
		v     Versions
		adv   string
		equal bool
	}{
		{"same inputs", spec("a", "1"), fakeLock{Ref: base.Ref, Packages: []string{"app=1"}}, v, "", true},
		{"spec changed", withEnv(map[string]string{"A": "1"}), lock, v, "", false},
		{"lock changed", base, fakeLock{Ref: base.Ref, Packages: []string{"app=2"}}, v, "", false},
		{"hic changed", base, lock, Versions{Hic: "v2", Apko: v.Apko}, "", false},
		{"apko changed", base, lock, Versions{Hic: v.Hic, Apko: "v0.31.0"}, "", false},
		{"key changed", base, lock, Versions{Hic: v.Hic, Apko: v.Apko, Key: "key2"}, "", false},
		{"advisories changed", base, lock, v, "sha256:" + strings.Repeat("a", 64), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := InputDigest(tc.img, tc.lock, tc.v, tc.adv)
			if err != nil {
				t.Fatal(err)
			}
			if (d == d0) != tc.equal {
				t.Errorf("digest %s vs base %s: equal %v, want %v", d, d0, d == d0, tc.equal)
			}
		})
	}
	// Map order never matters.
	a, _ := InputDigest(withEnv(map[string]string{"A": "1", "B": "2", "C": "3"}), lock, v, "")
	for range 20 {
		if b, _ := InputDigest(withEnv(map[string]string{"C": "3", "B": "2", "A": "1"}), lock, v, ""); a != b {
			t.Fatal("digest depends on map order")
		}
	}
}

func TestProgress(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		want []string
	}{
		{"plain", false, []string{
			"[1/3] built nginx:1.29-wolfi-runtime 1.2s sha256:abc\n",
			"[2/3] cached redis:8-wolfi-runtime 0.0s sha256:def\n",
			"[3/3] failed bad:1-wolfi-runtime 0.3s: bad:1-wolfi-runtime: build: boom\n",
		}},
		{"terminal", true, []string{
			"\r\033[K[==========                    ] 1/3  built 1  cached 0  failed 0",
			"\r\033[K[3/3] failed bad:1-wolfi-runtime 0.3s: bad:1-wolfi-runtime: build: boom\n",
			"\r\033[K[==============================] 3/3  built 1  cached 1  failed 1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newProgress(&buf, 3)
			p.tty = tc.tty
			p.done(report.SpecReport{Ref: "nginx:1.29-wolfi-runtime", Status: report.StatusBuilt, DurationMs: 1234, ImageDigest: "sha256:abc"})
			p.done(report.SpecReport{Ref: "redis:8-wolfi-runtime", Status: report.StatusCached, DurationMs: 3, ImageDigest: "sha256:def"})
			p.done(report.SpecReport{Ref: "bad:1-wolfi-runtime", Status: report.StatusFailed, DurationMs: 300, Error: "bad:1-wolfi-runtime: build: boom"})
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output %q lacks %q", buf.String(), w)
				}
			}
		})
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
}

// A run of some specs keeps in report.json the failing findings of the
// specs it did not build, so publish still refuses them.
func TestReportKeepsEarlierFailures(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	s := openStore(t, filepath.Join(out, "oci"))
	fb := &fakeBuilder{extra: map[string][]tarEntry{"suid:2-wolfi-runtime": {{name: "usr/bin/su", mode: 0o4755, data: "su"}}}}
	opts := Options{Store: s, Builder: fb, Jobs: 2, HicVersion: "v0.1.0", ReportPath: filepath.Join(out, "report.json")}
	if _, err := Run(ctx, []compile.Image{spec("redis", "8.2"), spec("suid", "2")}, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, []compile.Image{spec("redis", "8.2")}, opts); err != nil {
		t.Fatal(err)
	}
	disk, err := report.ReadReport(opts.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	why := disk.FailingSpecs()
	if len(disk.Specs) != 1 || !strings.Contains(why["suid:2-wolfi-runtime"], "fs-setuid") {
		t.Errorf("report.json after building redis alone: %d specs, failing %v; want redis only, and suid still failing", len(disk.Specs), why)
	}
}

// A report.json that exists but cannot be parsed is not dropped (it lists
// the specs whose last build failed, which publish refuses): Run refuses
// it before building anything, naming the file and the fix, and leaves it
// as it is.
func TestRunRefusesDamagedReport(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	path := filepath.Join(out, "report.json")
	damaged := []byte(`{"status": "completed", "earlierFailing": [{"ref": "suid:2-wolfi`)
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	fb := &fakeBuilder{}
	r, err := Run(ctx, []compile.Image{spec("redis", "8.2")}, Options{Store: openStore(t, filepath.Join(out, "oci")), Builder: fb, Jobs: 1, ReportPath: path})
	var de *fsutil.DamagedError
	if !errors.As(err, &de) || r != nil {
		t.Fatalf("Run over a damaged report.json: %+v, %v; want a *fsutil.DamagedError", r, err)
	}
	for _, w := range []string{path + " is damaged: unexpected end of JSON input at byte 64", "restore it from a copy of the last build's output (a backup, a CI artifact)", "or remove it to forget those failures"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if n := fb.buildCount("redis:8.2-wolfi-runtime"); n != 0 {
		t.Errorf("built %d times, want none", n)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, damaged) {
		t.Errorf("report.json replaced by %q", got)
	}
}
