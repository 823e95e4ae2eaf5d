package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/fsutil"
)

func randomIndex(t testing.TB) v1.ImageIndex {
	t.Helper()
	idx, err := random.Index(256, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readIndexJSON(t *testing.T, dir string) v1.IndexManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	return im
}

func TestPutLookupHas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	idx := randomIndex(t)
	desc, err := s.Put(ctx, Entry{SpecRef: "nginx:1.29-wolfi-runtime", Refs: []string{"nginx:1.29", "nginx:1.29-wolfi"}, InputDigest: "sha256:in1"}, idx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if desc.Digest != want || desc.MediaType != types.OCIImageIndex {
		t.Fatalf("Put descriptor = %+v, want digest %s", desc, want)
	}
	if h, ok := s.Has("sha256:in1"); !ok || h != want {
		t.Errorf("Has(in1) = %v, %v; want %v, true", h, ok, want)
	}
	if _, ok := s.Has("sha256:other"); ok {
		t.Error("Has(other) = true, want false")
	}
	rec, ok := s.Lookup("nginx:1.29-wolfi-runtime")
	if !ok {
		t.Fatal("Lookup: not found")
	}
	if diff := cmp.Diff([]string{"nginx:1.29", "nginx:1.29-wolfi"}, rec.Refs); diff != "" {
		t.Errorf("Refs (-want +got):\n%s", diff)
	}
	im := readIndexJSON(t, dir)
	var got []map[string]string
	for _, d := range im.Manifests {
		got = append(got, d.Annotations)
	}
	wantAnn := []map[string]string{
		{AnnotationRefName: "nginx:1.29", AnnotationSpecRef: "nginx:1.29-wolfi-runtime", AnnotationInputDigest: "sha256:in1"},
		{AnnotationRefName: "nginx:1.29-wolfi", AnnotationSpecRef: "nginx:1.29-wolfi-runtime", AnnotationInputDigest: "sha256:in1"},
	}
	if diff := cmp.Diff(wantAnn, got); diff != "" {
		t.Errorf("index.json annotations (-want +got):\n%s", diff)
	}
	if err := Validate(dir); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// Reopening reads the same state back.
	s.Close()
	s2 := openT(t, dir)
	if h, ok := s2.Has("sha256:in1"); !ok || h != want {
		t.Errorf("after reopen Has = %v, %v", h, ok)
	}
}

func TestReplaceKeepsOtherSpecs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	a := Entry{SpecRef: "a:1-wolfi-runtime", Refs: []string{"a:1"}, InputDigest: "sha256:a1"}
	b := Entry{SpecRef: "b:1-wolfi-runtime", Refs: []string{"b:1", "b:latest"}, InputDigest: "sha256:b1"}
	if _, err := s.Put(ctx, a, randomIndex(t)); err != nil {
		t.Fatal(err)
	}
	bIdx := randomIndex(t)
	bDesc, err := s.Put(ctx, b, bIdx, mustArtifact(t, Artifact{ArtifactType: "application/spdx+json", MediaType: "application/spdx+json", Data: []byte(`{"spdxVersion":"SPDX-2.3"}`)}))
	if err != nil {
		t.Fatal(err)
	}
	bEntries := func() []v1.Descriptor {
		var out []v1.Descriptor
		for _, d := range readIndexJSON(t, dir).Manifests {
			if d.Annotations[AnnotationSpecRef] == b.SpecRef {
				out = append(out, d)
			}
		}
		return out
	}
	before := bEntries()
	if len(before) != 3 {
		t.Fatalf("b has %d entries, want 3 (2 tags + 1 artifact)", len(before))
	}
	_ = bDesc

	a2 := a
	a2.InputDigest = "sha256:a2"
	newA := randomIndex(t)
	if _, err := s.Put(ctx, a2, newA); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, bEntries()); diff != "" {
		t.Errorf("b's entries changed (-want +got):\n%s", diff)
	}
	if _, ok := s.Has("sha256:a1"); ok {
		t.Error("old input digest of a still present")
	}
	wantA, _ := newA.Digest()
	if h, ok := s.Has("sha256:a2"); !ok || h != wantA {
		t.Errorf("Has(a2) = %v, %v", h, ok)
	}
	var specs []string
	for _, r := range s.Records() {
		specs = append(specs, r.SpecRef)
	}
	if diff := cmp.Diff([]string{a.SpecRef, b.SpecRef}, specs); diff != "" {
		t.Errorf("Records (-want +got):\n%s", diff)
	}
	if err := Validate(dir); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestReferrers(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir())
	idx := randomIndex(t)
	h, _ := idx.Digest()
	raw, _ := idx.RawManifest()
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw))}
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"x"}`)
	findings := []byte(`[]`)
	_, err := s.Put(ctx, Entry{SpecRef: "x:1"}, idx,
		mustArtifact(t, Artifact{ArtifactType: "application/spdx+json", Subject: subject, MediaType: "application/spdx+json", Data: sbom}),
		mustArtifact(t, Artifact{ArtifactType: "application/vnd.dev.hic.findings+json", Subject: subject, MediaType: "application/json", Data: findings}),
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		artifactType string
		subject      v1.Hash
		want         int
	}{
		{"", h, 2},
		{"application/spdx+json", h, 1},
		{"application/spdx+json", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.artifactType, func(t *testing.T) {
			got, err := s.Referrers(tc.subject, tc.artifactType)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d referrers, want %d", len(got), tc.want)
			}
		})
	}
	refs, _ := s.Referrers(h, "application/spdx+json")
	mb, err := s.Blob(refs[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	data, err := s.Blob(m.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(sbom) {
		t.Errorf("payload = %q, want %q", data, sbom)
	}
	if m.Subject == nil || m.Subject.Digest != h || m.ArtifactType != "application/spdx+json" {
		t.Errorf("manifest subject/artifactType wrong: %+v", m)
	}
	if err := Validate(s.Dir()); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestSecondProcessLockedOut(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir)
	_, err := Open(context.Background(), dir)
	if err == nil {
		t.Fatal("second Open succeeded, want lock error")
	}
	if want := "pid " + strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %q", err, want)
	}
}

func TestCancelledPutLeavesIndexUnchanged(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if _, err := s.Put(context.Background(), Entry{SpecRef: "a:1", Refs: []string{"a:1"}}, randomIndex(t)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, Entry{SpecRef: "b:1", Refs: []string{"b:1"}}, randomIndex(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled ctx = %v, want context.Canceled", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if string(before) != string(after) {
		t.Error("index.json changed by a cancelled Put")
	}
	if _, ok := s.Lookup("b:1"); ok {
		t.Error("cancelled spec is listed")
	}
}

func TestValidateDetects(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, dir string, idx v1.ImageIndex)
		want    string
	}{
		{"ok", func(*testing.T, string, v1.ImageIndex) {}, ""},
		{"corrupt blob", func(t *testing.T, dir string, idx v1.ImageIndex) {
			h, _ := idx.Digest()
			p := filepath.Join(dir, "blobs", "sha256", h.Hex)
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "content has digest"},
		{"missing layer", func(t *testing.T, dir string, idx v1.ImageIndex) {
			im, _ := idx.IndexManifest()
			img, _ := idx.Image(im.Manifests[0].Digest)
			ls, _ := img.Layers()
			h, _ := ls[0].Digest()
			if err := os.Remove(filepath.Join(dir, "blobs", "sha256", h.Hex)); err != nil {
				t.Fatal(err)
			}
		}, "is missing"},
		{"torn index.json", func(t *testing.T, dir string, idx v1.ImageIndex) {
			b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
			if err := os.WriteFile(filepath.Join(dir, "index.json"), b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}, "index.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir)
			idx := randomIndex(t)
			if _, err := s.Put(context.Background(), Entry{SpecRef: "a:1", Refs: []string{"a:1"}}, idx); err != nil {
				t.Fatal(err)
			}
			s.Close()
			tc.corrupt(t, dir, idx)
			err := Validate(dir)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestConcurrentPuts(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	const n = 16
	errc := make(chan error, n)
	for i := range n {
		go func() {
			_, err := s.Put(context.Background(), Entry{SpecRef: fmt.Sprintf("s%02d:1", i), Refs: []string{fmt.Sprintf("s%02d:1", i)}, InputDigest: fmt.Sprintf("in%d", i)}, randomIndex(t))
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if got := len(readIndexJSON(t, dir).Manifests); got != n {
		t.Errorf("index.json has %d entries, want %d", got, n)
	}
	if err := Validate(dir); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func mustArtifact(t testing.TB, a Artifact) Referrer {
	t.Helper()
	r, err := NewArtifact(a)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPutRejectsReferrerWithMissingBlob(t *testing.T) {
	s := openT(t, t.TempDir())
	r := mustArtifact(t, Artifact{ArtifactType: "x", MediaType: "application/octet-stream", Data: []byte("payload")})
	r.Blobs = nil
	if _, err := s.Put(context.Background(), Entry{SpecRef: "a:1"}, randomIndex(t), r); err == nil || !strings.Contains(err.Error(), "neither given nor stored") {
		t.Fatalf("Put = %v, want missing-blob error", err)
	}
	if _, ok := s.Lookup("a:1"); ok {
		t.Error("spec listed after a failed Put")
	}
}

// TestPutReferrersReplacedOnRebuild: referrers stored with an image carry
// the spec's annotations, and rebuilding the spec drops them with the image.
func TestPutReferrersReplacedOnRebuild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	idx := randomIndex(t)
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: h, Size: int64(len(raw))}
	att := mustArtifact(t, Artifact{ArtifactType: "application/vnd.in-toto+json", Subject: subject, MediaType: "application/vnd.dsse.envelope.v1+json", Data: []byte(`{"payload":""}`)})
	att.Annotations = map[string]string{"dev.hic.attestation.subject": h.String()}
	desc, err := s.Put(ctx, Entry{SpecRef: "a:1", Refs: []string{"a:1"}, InputDigest: "in-a"}, idx, att)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Referrers(desc.Digest, "application/vnd.in-toto+json")
	if err != nil || len(got) != 1 {
		t.Fatalf("Referrers = %d, %v; want 1", len(got), err)
	}
	if got[0].Annotations["dev.hic.attestation.subject"] != desc.Digest.String() || got[0].Annotations[AnnotationSpecRef] != "a:1" || got[0].Annotations[AnnotationInputDigest] != "in-a" {
		t.Errorf("annotations = %v", got[0].Annotations)
	}
	if err := Validate(dir); err != nil {
		t.Error(err)
	}
	// Rebuilding the spec drops its old referrers.
	if _, err := s.Put(ctx, Entry{SpecRef: "a:1", Refs: []string{"a:1"}, InputDigest: "in-a2"}, randomIndex(t)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Referrers(desc.Digest, ""); len(got) != 0 {
		t.Errorf("old referrers survived a rebuild: %v", got)
	}
}

func TestClosedStoreRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if _, err := s.Put(context.Background(), Entry{SpecRef: "a:1"}, randomIndex(t)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	s.Close()
	if _, err := s.Put(context.Background(), Entry{SpecRef: "b:1"}, randomIndex(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if string(before) != string(after) {
		t.Error("index.json changed after Close")
	}
	// The lock is released: another Open succeeds.
	openT(t, dir)
}

func TestHasNeedsTheBlob(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	desc, err := s.Put(context.Background(), Entry{SpecRef: "a:1", InputDigest: "in"}, randomIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "blobs", "sha256", desc.Digest.Hex)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Has("in"); ok {
		t.Error("Has = true for an image whose index blob is gone")
	}
}

func TestGCRemovesOnlyUnreachableBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	old := randomIndex(t)
	oldDesc, err := s.Put(ctx, Entry{SpecRef: "a:1", Refs: []string{"a:1"}}, old)
	if err != nil {
		t.Fatal(err)
	}
	keep := randomIndex(t)
	keepDesc, err := s.Put(ctx, Entry{SpecRef: "b:1", Refs: []string{"b:1"}}, keep,
		mustArtifact(t, Artifact{ArtifactType: "application/spdx+json", MediaType: "application/spdx+json", Data: []byte(`{"spdxVersion":"SPDX-2.3"}`)}))
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.GC(ctx, false); err != nil || n != 0 {
		t.Fatalf("GC with nothing to collect = %d, %v", n, err)
	}
	if _, err := s.Put(ctx, Entry{SpecRef: "a:1", Refs: []string{"a:1"}}, randomIndex(t)); err != nil { // a rebuilt
		t.Fatal(err)
	}
	// The old a: index, 2 images, 2 configs, 4 layers.
	n, freed, err := s.GC(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if n != 9 || freed <= 0 {
		t.Errorf("GC removed %d blobs (%d bytes), want 9", n, freed)
	}
	if s.hasBlob(oldDesc.Digest) || !s.hasBlob(keepDesc.Digest) {
		t.Error("GC removed the wrong index")
	}
	if err := Validate(dir); err != nil {
		t.Fatal(err)
	}
}

// TestIndexJSONMatchesMemory checks the incrementally encoded index.json
// against the store's in-memory index after puts, a replacement and a reopen.
func TestIndexJSONMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	ctx := context.Background()
	for i, ref := range []string{"a:1-wolfi-runtime", "b:1-wolfi-runtime", "a:1-wolfi-runtime"} {
		e := Entry{SpecRef: ref, Refs: []string{strings.Split(ref, ":")[0] + ":1", strings.Split(ref, ":")[0] + ":latest"}, InputDigest: fmt.Sprint("sha256:", i)}
		if _, err := s.Put(ctx, e, randomIndex(t)); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		want := s.manifest
		s.mu.Unlock()
		if diff := cmp.Diff(want, readIndexJSON(t, dir)); diff != "" {
			t.Fatalf("after put %d, index.json differs from memory (-memory +file):\n%s", i, diff)
		}
	}
	if got := len(readIndexJSON(t, dir).Manifests); got != 4 {
		t.Errorf("index.json has %d entries, want 4 (two tags of two specs)", got)
	}
	s.Close()
	s2 := openT(t, dir)
	if _, ok := s2.Lookup("b:1-wolfi-runtime"); !ok {
		t.Error("reopened store lost an entry")
	}
}

// TestHasNeedsEveryBlob checks that a stored image with a lost layer blob
// counts as not stored, so the next build rebuilds it instead of trusting it.
func TestHasNeedsEveryBlob(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	idx := randomIndex(t)
	if _, err := s.Put(context.Background(), Entry{SpecRef: "a:1-wolfi-runtime", Refs: []string{"a:1"}, InputDigest: "sha256:in"}, idx); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Has("sha256:in"); !ok {
		t.Fatal("Has is false right after Put")
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ld, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "blobs", ld.Algorithm, ld.Hex)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Has("sha256:in"); ok {
		t.Error("Has is true for an image whose layer blob is gone")
	}
	if _, err := s.Put(context.Background(), Entry{SpecRef: "a:1-wolfi-runtime", Refs: []string{"a:1"}, InputDigest: "sha256:in"}, idx); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Has("sha256:in"); !ok {
		t.Error("storing the image again did not restore the lost blob")
	}
	if err := Validate(dir); err != nil {
		t.Errorf("layout invalid after the repair: %v", err)
	}
}

// TestConcurrentPutsShareOneWrite holds the first index.json write in
// flight while more Puts swap in their entries: they must wait for it and
// then share one write, not write index.json once each.
func TestConcurrentPutsShareOneWrite(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	var writes atomic.Int32
	inFlight := make(chan struct{})
	release := make(chan struct{})
	s.writeIndexJSON = func(path string, b []byte) error {
		if writes.Add(1) == 1 {
			close(inFlight)
			<-release
		}
		return fsutil.WriteFileAtomic(path, b, 0o644)
	}
	put := func(i int, errc chan<- error) {
		ref := fmt.Sprintf("s%02d:1", i)
		_, err := s.Put(context.Background(), Entry{SpecRef: ref, Refs: []string{ref}, InputDigest: fmt.Sprintf("in%d", i)}, randomIndex(t))
		errc <- err
	}
	const n = 8
	errc := make(chan error, n+1)
	go put(0, errc)
	<-inFlight
	for i := 1; i <= n; i++ {
		go put(i, errc)
	}
	// Every Put swaps its entries in (one generation each) before it waits
	// for the write in flight.
	for {
		s.mu.Lock()
		gen := s.gen
		s.mu.Unlock()
		if gen == n+1 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	for range n + 1 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if got := writes.Load(); got != 2 {
		t.Errorf("index.json written %d times for %d Puts, %d of them while the first write was in flight; want 2 (one for the first, one shared by the rest)", got, n+1, n)
	}
	if got := len(readIndexJSON(t, dir).Manifests); got != n+1 {
		t.Errorf("index.json has %d entries, want %d", got, n+1)
	}
}

// An index.json prefetched before the store is opened is used only while
// it is the file that was read: a Put by another process in between, or a
// write in place with the modification time kept, is what Open reads.
func TestOpenPrefetched(t *testing.T) {
	ctx := context.Background()
	for _, change := range []string{"none", "replaced", "rewritten in place"} {
		t.Run(change, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir)
			if _, err := s.Put(ctx, Entry{SpecRef: "a:1", Refs: []string{"a:1"}, InputDigest: "sha256:in-a"}, randomIndex(t)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			pre := PrefetchIndex(dir)
			<-pre.done
			if !pre.ok {
				t.Fatal("the prefetch did not read index.json")
			}
			want := "a:1"
			switch change {
			case "replaced":
				s := openT(t, dir)
				if _, err := s.Put(ctx, Entry{SpecRef: "a:1", Refs: []string{"a:2"}, InputDigest: "sha256:in-a2"}, randomIndex(t)); err != nil {
					t.Fatal(err)
				}
				s.Close()
				want = "a:2"
			case "rewritten in place":
				p := filepath.Join(dir, "index.json")
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				// Same length, same modification time: only the change
				// time tells.
				b = bytes.Replace(b, []byte(`"org.opencontainers.image.ref.name":"a:1"`), []byte(`"org.opencontainers.image.ref.name":"a:9"`), 1)
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
					t.Fatal(err)
				}
				want = "a:9"
			}
			s2, err := OpenPrefetched(ctx, dir, pre)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			r, ok := s2.Lookup("a:1")
			if !ok || len(r.Refs) != 1 || r.Refs[0] != want {
				t.Errorf("after %s: refs %v, want [%s]", change, r.Refs, want)
			}
		})
	}
}

// SpecsWithArtifacts names the specs whose stored image has a referrer of
// the types asked for: a spec rebuilt without one drops out, and a
// rejected image's referrers name no spec.
func TestSpecsWithArtifacts(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir())
	const sig, sbom = "application/vnd.dev.cosign.artifact.sig.v1+json", "application/spdx+json"
	put := func(spec string, types ...string) {
		t.Helper()
		idx := randomIndex(t)
		d, err := DescriptorOf(idx)
		if err != nil {
			t.Fatal(err)
		}
		var refs []Referrer
		for _, at := range types {
			refs = append(refs, mustArtifact(t, Artifact{ArtifactType: at, Subject: d, MediaType: "application/json", Data: []byte(`{"spec":"` + spec + `"}`)}))
		}
		if _, err := s.Put(ctx, Entry{SpecRef: spec, Refs: []string{spec}}, idx, refs...); err != nil {
			t.Fatal(err)
		}
	}
	put("b:1", sbom, sig)
	put("a:1", sig)
	put("c:1", sbom)
	rej := randomIndex(t)
	rd, _ := DescriptorOf(rej)
	if _, err := s.PutRejected(ctx, "d:1", "failed", rej, mustArtifact(t, Artifact{ArtifactType: sig, Subject: rd, MediaType: "application/json", Data: []byte(`{}`)})); err != nil {
		t.Fatal(err)
	}
	if got, want := s.SpecsWithArtifacts(sig), []string{"a:1", "b:1"}; !slices.Equal(got, want) {
		t.Errorf("SpecsWithArtifacts(sig) = %q, want %q", got, want)
	}
	if got, want := s.SpecsWithArtifacts(sbom, sig), []string{"a:1", "b:1", "c:1"}; !slices.Equal(got, want) {
		t.Errorf("SpecsWithArtifacts(sbom, sig) = %q, want %q", got, want)
	}
	put("b:1", sbom) // rebuilt without a signature
	if got, want := s.SpecsWithArtifacts(sig), []string{"a:1"}; !slices.Equal(got, want) {
		t.Errorf("after b's rebuild: SpecsWithArtifacts(sig) = %q, want %q", got, want)
	}
}

// ArtifactAnnotations gives, per spec, the values an annotation has on its
// referrers of the types asked for ("" for an entry without it): a rebuild
// replaces them, a rejected image's referrers name no spec.
func TestArtifactAnnotations(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir())
	const sig, att, sbom, key = "application/vnd.dev.cosign.artifact.sig.v1+json", "application/vnd.in-toto+json", "application/spdx+json", "dev.hic.key-id"
	type ref struct{ artifactType, key string }
	put := func(spec string, rs ...ref) {
		t.Helper()
		idx := randomIndex(t)
		d, err := DescriptorOf(idx)
		if err != nil {
			t.Fatal(err)
		}
		var refs []Referrer
		for i, r := range rs {
			a := Artifact{ArtifactType: r.artifactType, Subject: d, MediaType: "application/json", Data: []byte(fmt.Sprintf(`{"spec":%q,"n":%d}`, spec, i))}
			if r.key != "" {
				a.IndexAnnotations = map[string]string{key: r.key}
			}
			refs = append(refs, mustArtifact(t, a))
		}
		if _, err := s.Put(ctx, Entry{SpecRef: spec, Refs: []string{spec}}, idx, refs...); err != nil {
			t.Fatal(err)
		}
	}
	put("a:1", ref{sig, "k1"}, ref{att, "k1"}, ref{sbom, "k9"})
	put("b:1", ref{sig, "k2"}, ref{att, "k1"})
	put("c:1", ref{sig, ""}, ref{att, "k1"})
	put("d:1", ref{sbom, "k1"})
	rej := randomIndex(t)
	rd, _ := DescriptorOf(rej)
	if _, err := s.PutRejected(ctx, "e:1", "failed", rej, mustArtifact(t, Artifact{ArtifactType: sig, Subject: rd, MediaType: "application/json", Data: []byte(`{}`), IndexAnnotations: map[string]string{key: "k3"}})); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a:1": {"k1"}, "b:1": {"k1", "k2"}, "c:1": {"", "k1"}}
	if got := s.ArtifactAnnotations(key, sig, att); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("ArtifactAnnotations = %q, want %q", got, want)
	}
	put("b:1", ref{sig, "k2"}, ref{att, "k2"})
	want["b:1"] = []string{"k2"}
	if got := s.ArtifactAnnotations(key, sig, att); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("after b's rebuild: ArtifactAnnotations = %q, want %q", got, want)
	}
}

// A layout whose index.json exists but does not parse is not opened, nor
// repaired: the error names the file, where the JSON broke, why hic does
// not rebuild it from the blobs and what to do; index.json stays as it was.
func TestOpenDamagedIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	if _, err := s.Put(ctx, Entry{SpecRef: "a:1", Refs: []string{"a:1"}, InputDigest: "sha256:in-a"}, randomIndex(t)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	p := filepath.Join(dir, "index.json")
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		bytes []byte
		want  string
	}{
		{"truncated", good[:100], "unexpected end of JSON input at byte 100"},
		{"garbage", []byte("{bad"), "invalid character 'b' looking for beginning of object key string at byte 2"},
	} {
		if err := os.WriteFile(p, c.bytes, 0o644); err != nil {
			t.Fatal(err)
		}
		opens := map[string]func() (*Store, error){
			"Open":           func() (*Store, error) { return Open(ctx, dir) },
			"OpenPrefetched": func() (*Store, error) { return OpenPrefetched(ctx, dir, PrefetchIndex(dir)) },
			"OpenReadOnly":   func() (*Store, error) { return OpenReadOnly(ctx, dir) },
		}
		for name, open := range opens {
			s, err := open()
			if err == nil {
				s.Close()
				t.Errorf("%s: %s opened the layout", c.name, name)
				continue
			}
			var de *fsutil.DamagedError
			if !errors.As(err, &de) {
				t.Errorf("%s: %s: %v, want a *fsutil.DamagedError", c.name, name, err)
			}
			for _, w := range []string{p + " is damaged: " + c.want, "so hic does not rebuild it from them",
				"restore it from a backup, or move the layout aside (mv " + dir + " " + dir + ".damaged) and build again"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %s: %q does not say %q", c.name, name, err, w)
				}
			}
			if b, _ := os.ReadFile(p); !bytes.Equal(b, c.bytes) {
				t.Errorf("%s: %s changed index.json to %q", c.name, name, b)
			}
		}
	}
}
