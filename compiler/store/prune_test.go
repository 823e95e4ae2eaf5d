package store

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPruneRemovesOnlyTheGoneSpecs: a dry run lists the gone spec's image
// and the blobs the prune frees, and changes nothing; the prune then drops
// its entries (every ref and its artifacts), GC frees exactly those blobs,
// and the other spec is untouched.
func TestPruneRemovesOnlyTheGoneSpecs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openT(t, dir)
	sbom := func() Referrer {
		return mustArtifact(t, Artifact{ArtifactType: "application/spdx+json", MediaType: "application/spdx+json", Data: []byte(`{"spdxVersion":"SPDX-2.3","name":"` + t.Name() + `"}`)})
	}
	gone, err := s.Put(ctx, Entry{SpecRef: "old:1", Refs: []string{"old:1", "old:latest"}}, randomIndex(t), sbom())
	if err != nil {
		t.Fatal(err)
	}
	kept, err := s.Put(ctx, Entry{SpecRef: "app:1", Refs: []string{"app:1"}}, randomIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	inCatalog := func(ref string) bool { return ref == "app:1" }
	before := len(s.manifest.Manifests)

	dry, err := s.Prune(ctx, inCatalog, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"old:1"}, specRefs(dry)); diff != "" {
		t.Errorf("dry run lists (-want +got):\n%s", diff)
	}
	if n, _, err := s.GC(ctx, true); err != nil || n != 0 {
		t.Errorf("GC dry run after the prune dry run: %d blobs, %v; want 0", n, err)
	}
	// GCAfterPrune's dry run counts what the prune frees: the real prune
	// and GC below must remove exactly that.
	dryBlobs, dryBytes, err := s.GCAfterPrune(ctx, inCatalog, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.manifest.Manifests); got != before {
		t.Errorf("dry run changed index.json: %d entries, want %d", got, before)
	}
	if !s.hasBlob(gone.Digest) {
		t.Fatal("GCAfterPrune dry run removed a blob")
	}

	pruned, err := s.Prune(ctx, inCatalog, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"old:1"}, specRefs(pruned)); diff != "" {
		t.Errorf("pruned (-want +got):\n%s", diff)
	}
	for _, d := range s.manifest.Manifests {
		if d.Annotations[AnnotationSpecRef] == "old:1" {
			t.Errorf("index.json still has an entry of old:1: %v", d)
		}
	}
	wouldFree, _, err := s.GC(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !s.hasBlob(gone.Digest) {
		t.Fatal("GC dry run removed a blob")
	}
	// The old index, 2 images, 2 configs, 4 layers, the SBOM manifest, its config and layer.
	n, freed, err := s.GCAfterPrune(ctx, inCatalog, false)
	if err != nil {
		t.Fatal(err)
	}
	if n != wouldFree || n < 9 {
		t.Errorf("GC removed %d blobs, dry run said %d, want >= 9", n, wouldFree)
	}
	if n != dryBlobs || freed != dryBytes {
		t.Errorf("prune and GC removed %d blobs (%d bytes), the dry run of both said %d (%d bytes)", n, freed, dryBlobs, dryBytes)
	}
	if s.hasBlob(gone.Digest) || !s.hasBlob(kept.Digest) {
		t.Error("GC removed the wrong index")
	}
	if err := Validate(dir); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, dir)
	if _, ok := s.Lookup("old:1"); ok {
		t.Error("old:1 is back after reopening the layout")
	}
	if _, ok := s.Lookup("app:1"); !ok {
		t.Error("app:1 is gone after reopening the layout")
	}
}

func specRefs(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.SpecRef)
	}
	return out
}
