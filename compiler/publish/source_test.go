package publish_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/publish"
)

// storeLike writes a layout as compiler/store does: per spec one index
// tagged repo:latest and n referrers of it, every entry annotated with the
// spec. It returns the index digests and the referrer manifest digests by repo.
func storeLike(t *testing.T, dir string, n int, repos ...string) (map[string]v1.Hash, map[string][]v1.Hash) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	idxs := map[string]v1.Hash{}
	refs := map[string][]v1.Hash{}
	var entries []v1.Descriptor
	for _, repo := range repos {
		spec := "catalog/" + repo
		idx, err := random.Index(64, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WriteIndex(idx); err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		idxs[repo] = d
		entries = append(entries, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: mustSize(t, idx),
			Annotations: map[string]string{publish.AnnotationRefName: repo + ":latest", publish.AnnotationSpecRef: spec}})
		subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: d, Size: mustSize(t, idx)}
		for i := range n {
			a := artifact(t, subject, "application/vnd.example+json",
				static.NewLayer([]byte(repo+" document "+string(rune('a'+i%26))+strings.Repeat("x", i)), "application/vnd.example+json"), nil, nil)
			if err := p.WriteImage(a); err != nil {
				t.Fatal(err)
			}
			ad, err := a.Digest()
			if err != nil {
				t.Fatal(err)
			}
			sz, err := a.Size()
			if err != nil {
				t.Fatal(err)
			}
			refs[repo] = append(refs[repo], ad)
			entries = append(entries, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: ad, Size: sz,
				ArtifactType: "application/vnd.example+json", Annotations: map[string]string{publish.AnnotationSpecRef: spec}})
		}
	}
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: entries})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return idxs, refs
}

func blobPath(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }

// A selection reads only what it selects: the blobs of other specs may be
// missing without an error; publishing everything then names what is missing.
func TestFromLayoutTouchesOnlySelected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	idxs, refs := storeLike(t, dir, 5, "hic/alpha", "hic/beta")
	for _, h := range append(refs["hic/beta"], idxs["hic/beta"]) {
		if err := os.Remove(blobPath(dir, h)); err != nil {
			t.Fatal(err)
		}
	}

	images, err := publish.FromLayout(ctx, layout.Path(dir), "hic/alpha")
	if err != nil {
		t.Fatalf("selecting hic/alpha read another spec's blobs: %v", err)
	}
	if len(images) != 1 || images[0].Repository != "hic/alpha" {
		t.Fatalf("got %d images, want hic/alpha", len(images))
	}
	if len(images[0].Referrers) != 0 {
		t.Fatalf("FromLayout read %d referrers, want them left for ReadReferrers", len(images[0].Referrers))
	}
	if err := images[0].ReadReferrers(ctx); err != nil {
		t.Fatal(err)
	}
	var got []v1.Hash
	for _, r := range images[0].Referrers {
		d, err := r.Artifact.Digest()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if want := refs["hic/alpha"]; len(got) != len(want) {
		t.Fatalf("got %d referrers, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != refs["hic/alpha"][i] {
			t.Errorf("referrer %d: got %s, want %s (index.json order)", i, got[i], refs["hic/alpha"][i])
		}
	}

	_, err = publish.FromLayout(ctx, layout.Path(dir))
	if err == nil || !strings.Contains(err.Error(), idxs["hic/beta"].String()) {
		t.Errorf("publishing everything with a missing index: got %v, want an error naming %s", err, idxs["hic/beta"])
	}
}

// A blob whose bytes do not match its digest is an error naming it, not
// something pushed for the registry to reject.
func TestFromLayoutDamagedBlob(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, refs := storeLike(t, dir, 2, "hic/alpha")
	bad := refs["hic/alpha"][1]
	if err := os.WriteFile(blobPath(dir, bad), []byte(`{"schemaVersion":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	images, err := publish.FromLayout(ctx, layout.Path(dir))
	if err != nil {
		t.Fatalf("FromLayout read a referrer: %v", err)
	}
	err = images[0].ReadReferrers(ctx)
	if err == nil || !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("got %v, want an error naming the damaged blob %s", err, bad)
	}
}

// Many referrers are read with index.json parsed once; every one is
// attached to its image.
func TestFromLayoutManyReferrers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, refs := storeLike(t, dir, 300, "hic/alpha", "hic/beta", "hic/gamma")
	images, err := publish.FromLayout(ctx, layout.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 3 {
		t.Fatalf("got %d images, want 3", len(images))
	}
	for _, img := range images {
		if err := img.ReadReferrers(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := len(img.Referrers), len(refs[img.Repository]); got != want {
			t.Errorf("%s: %d referrers, want %d", img.Repository, got, want)
		}
	}
}
