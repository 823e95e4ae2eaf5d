package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/testenv"
)

// TestGC stores a spec, replaces it with another image, and checks that
// hic gc removes the replaced image's blobs and leaves a valid layout.
func TestGC(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"sha256:one", "sha256:two"} {
		idx, err := random.Index(512, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put(context.Background(), store.Entry{SpecRef: "app:1-wolfi-runtime", Refs: []string{"app:1"}, InputDigest: in}, idx); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	if out := hicCLI(t, nil, "gc", "--layout", dir).must(t, 0).Stdout; !strings.HasPrefix(out, "removed ") || strings.HasPrefix(out, "removed 0 ") {
		t.Errorf("hic gc removed nothing after a replacement: %q", out)
	}
	if err := store.Validate(dir); err != nil {
		t.Errorf("layout invalid after gc: %v", err)
	}
	if r := hicCLI(t, nil, "gc", "--layout", filepath.Join(dir, "missing")); r.Code != exitUsage {
		t.Errorf("gc of a missing layout: %s\nwant exit %d", r, exitUsage)
	}
}

// TestGCPrune builds a two-image catalog, removes one image's folder, and
// checks that hic gc --prune --dry-run lists exactly the removed spec's
// image and the blobs the real run frees (those the prune makes
// unreachable, and one that was already), changing nothing; that hic gc
// --prune then removes just those (no tag, no blob left) and the remaining
// image still verifies; and that hic publish of the pruned layout has
// nothing of the removed spec to push.
func TestGCPrune(t *testing.T) {
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog")
	bldCopyDir(t, tamperCatalog, cat)
	keys := filepath.Join(dir, "keys")
	mirror := filepath.Join(dir, "mirror")
	out := filepath.Join(dir, "out")
	oci := filepath.Join(out, "oci")
	hic := func(args ...string) (string, int) {
		t.Helper()
		r := hicCLI(t, nil, append([]string{"-C", cat}, args...)...)
		return r.output(), r.Code
	}
	for _, args := range [][]string{
		{"keygen", "--out", keys},
		{"mirror", "--out", mirror},
		{"build", "--all", "--today", tamperToday, "--mirrors", mirror, "--out", out, "--key", filepath.Join(keys, "hic.key")},
	} {
		if msg, code := hic(args...); code != 0 {
			t.Fatalf("hic %v exited %d:\n%s", args, code, msg)
		}
	}
	const gone, kept = "app-alpine:1-alpine-3.23-runtime", "app:1-wolfi-runtime"
	st, err := store.Open(t.Context(), oci)
	if err != nil {
		t.Fatal(err)
	}
	goneRec, ok := st.Lookup(gone)
	st.Close()
	if !ok {
		t.Fatalf("the build stored no image of %s", gone)
	}
	indexBefore, err := os.ReadFile(filepath.Join(oci, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cat, "app-alpine")); err != nil {
		t.Fatal(err)
	}

	// Before the prune, publish leaves the removed spec out.
	reg := testenv.StartRegistry(t)
	msg, code := hic("publish", "--layout", oci, reg+"/p")
	if code != 0 || !strings.Contains(msg, "spec "+gone+" is not in the catalog") {
		t.Errorf("publish exited %d, want 0 and the removed spec skipped by name:\n%s", code, msg)
	}
	for _, tag := range goneRec.Refs {
		ref, err := name.ParseReference(reg+"/p/"+tag, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(ref); err == nil {
			t.Errorf("publish pushed %s of a spec that is not in the catalog", ref)
		}
	}

	// A blob no entry reaches already (as a replaced image leaves): the
	// dry run must count it with those the prune frees.
	orphan := []byte("an unreachable blob")
	if err := os.WriteFile(filepath.Join(oci, "blobs", "sha256", fmt.Sprintf("%x", sha256.Sum256(orphan))), orphan, 0o644); err != nil {
		t.Fatal(err)
	}
	blobsBefore := blobSizes(t, oci)

	msg, code = hic("gc", "--layout", oci, "--prune", "--dry-run")
	if code != 0 {
		t.Fatalf("gc --prune --dry-run exited %d:\n%s", code, msg)
	}
	listed, dryBlobs := gcLines(msg, "would remove")
	if len(listed) != 1 || listed[0] != gone {
		t.Errorf("gc --prune --dry-run lists %v, want exactly [%s]:\n%s", listed, gone, msg)
	}
	if after, _ := os.ReadFile(filepath.Join(oci, "index.json")); !bytes.Equal(after, indexBefore) {
		t.Error("gc --prune --dry-run changed index.json")
	}
	if !maps.Equal(blobSizes(t, oci), blobsBefore) {
		t.Error("gc --prune --dry-run changed the blobs")
	}

	msg, code = hic("gc", "--layout", oci, "--prune")
	if code != 0 || !strings.Contains(msg, "removed "+gone) {
		t.Fatalf("gc --prune exited %d, want it to remove %s:\n%s", code, gone, msg)
	}
	// The dry run said what the real run removes: the same images, and
	// the blobs it deleted, by count and bytes.
	removed, realBlobs := gcLines(msg, "removed")
	if !slices.Equal(removed, listed) {
		t.Errorf("gc --prune removed %v, the dry run listed %v", removed, listed)
	}
	blobsAfter := blobSizes(t, oci)
	deleted, deletedBytes := 0, int64(0)
	for hex, size := range blobsBefore {
		if _, ok := blobsAfter[hex]; !ok {
			deleted++
			deletedBytes += size
		}
	}
	want := fmt.Sprintf("%d (%d bytes", deleted, deletedBytes)
	if dryBlobs != want || realBlobs != want || deleted < 2 {
		t.Errorf("gc --prune --dry-run would remove %q blobs, gc --prune says it removed %q, and deleted %s) of the layout's blobs; want them equal, the orphan and the pruned image's", dryBlobs, realBlobs, want)
	}
	st, err = store.Open(t.Context(), oci)
	if err != nil {
		t.Fatal(err)
	}
	_, still := st.Lookup(gone)
	_, keptOK := st.Lookup(kept)
	remaining := st.Records()
	st.Close()
	if still || !keptOK {
		t.Errorf("after gc --prune: %s stored %v (want false), %s stored %v (want true)", gone, still, kept, keptOK)
	}
	if _, err := os.Stat(filepath.Join(oci, "blobs", "sha256", goneRec.Descriptor.Digest.Hex)); !os.IsNotExist(err) {
		t.Errorf("the pruned image's index blob is still in the layout (%v)", err)
	}
	if err := store.Validate(oci); err != nil {
		t.Errorf("layout invalid after gc --prune: %v", err)
	}
	// Every image left verifies: the prune took nothing another image needs.
	if len(remaining) == 0 {
		t.Fatal("no image left after gc --prune, want the catalog's other specs")
	}
	for _, r := range remaining {
		if msg, code := hic("verify", r.SpecRef, "--layout", oci, "--key", filepath.Join(keys, "hic.pub")); code != 0 {
			t.Errorf("%s does not verify after gc --prune (exit %d):\n%s", r.SpecRef, code, msg)
		}
	}
}

// gcLines reads hic gc's output: the spec refs of the images it lists under
// verb ("removed", "would remove"), and "N (B bytes" of its blob line.
func gcLines(out, verb string) (images []string, blobs string) {
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, verb+" ")
		if !ok {
			continue
		}
		if f := strings.Fields(rest); len(f) > 1 && strings.HasPrefix(f[1], "sha256:") {
			images = append(images, f[0])
		} else if n, b, ok := strings.Cut(rest, " blob"); ok {
			if _, size, ok := strings.Cut(b, "("); ok {
				blobs = n + " (" + strings.SplitN(size, " ", 2)[0] + " bytes"
			}
		}
	}
	return images, blobs
}

// blobSizes maps the hex digest of each blob of the layout to its size.
func blobSizes(t *testing.T, oci string) map[string]int64 {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(oci, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.Size()
	}
	return out
}
