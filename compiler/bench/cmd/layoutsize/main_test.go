package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testLayout writes an OCI layout shaped like hic's: two multi-platform
// image indexes whose four platform manifests share one base layer, each
// with its own top layer; an attestation and a signature attached to the
// first index; one blob nothing lists. It returns the layout directory, the
// two index digests and the layers by name.
func testLayout(t *testing.T) (string, []v1.Hash, map[string]v1.Layer) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]v1.Layer{
		"base": static.NewLayer(bytes.Repeat([]byte("b"), 5000), types.OCILayer),
	}
	var idxs []v1.Hash
	var first v1.ImageIndex
	for i, img := range []string{"a", "b"} {
		var adds []mutate.IndexAddendum
		for _, arch := range []string{"amd64", "arm64"} {
			top := static.NewLayer([]byte(strings.Repeat(img+arch, 100*(i+1))), types.OCILayer)
			layers[img+"-"+arch] = top
			im, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers["base"], top)
			if err != nil {
				t.Fatal(err)
			}
			im = mutate.ConfigMediaType(im, types.OCIConfigJSON)
			adds = append(adds, mutate.IndexAddendum{Add: im, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		}
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
		for _, tag := range []string{"1", "latest"} {
			if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": img + ":" + tag})); err != nil {
				t.Fatal(err)
			}
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		idxs = append(idxs, d)
		if first == nil {
			first = idx
		}
	}
	sz, err := first.Size()
	if err != nil {
		t.Fatal(err)
	}
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: idxs[0], Size: sz}
	for _, a := range []struct {
		artifactType string
		payload      string
	}{
		{"application/vnd.in-toto+json", `{"payloadType":"application/vnd.in-toto+json","payload":"e30="}`},
		{"application/vnd.dev.cosign.artifact.sig.v1+json", `{"critical":{}}`},
	} {
		im, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
			static.NewLayer([]byte(a.payload), types.MediaType(a.artifactType)))
		if err != nil {
			t.Fatal(err)
		}
		im = mutate.ConfigMediaType(im, types.MediaType(a.artifactType))
		im = mutate.Subject(im, subject).(v1.Image)
		if err := p.AppendImage(im); err != nil {
			t.Fatal(err)
		}
	}
	orphan := []byte("left behind by an interrupted build")
	h, _, err := v1.SHA256(bytes.NewReader(orphan))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), orphan, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, idxs, layers
}

func size(t *testing.T, l v1.Layer) int64 {
	t.Helper()
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// filesUnder sums the apparent sizes of every file under dir, as du -b
// counts files.
func filesUnder(t *testing.T, dir string) (int, int64) {
	t.Helper()
	var n int
	var total int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
			total += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, total
}

func TestMeasure(t *testing.T) {
	dir, idxs, layers := testLayout(t)
	base := size(t, layers["base"])
	tops := size(t, layers["a-amd64"]) + size(t, layers["a-arm64"]) + size(t, layers["b-amd64"]) + size(t, layers["b-arm64"])
	files, apparent := filesUnder(t, dir)

	for _, tc := range []struct {
		name   string
		images []string
	}{
		{"every image index.json lists", nil},
		// The report lists an image once per spec; a repeat counts once.
		{"the report's images", []string{idxs[0].String(), idxs[1].String(), idxs[0].String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := measure(dir, tc.images)
			if err != nil {
				t.Fatal(err)
			}
			type counts struct {
				Images, LayerRefs, Unique, Files int
				Summed, UniqueBytes, Apparent    int64
			}
			want := counts{
				Images: 2, LayerRefs: 8, Unique: 5, Files: files,
				Summed: 4*base + tops, UniqueBytes: base + tops, Apparent: apparent,
			}
			got := counts{s.Images, s.LayerRefs, s.Unique, s.Layout.Files, s.Summed, s.UniqueBytes, s.Layout.Apparent}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("sizes (-want +got):\n%s", d)
			}
			wantKinds := map[string]int{
				kindLayers: 5,
				// 2 indexes, 4 platform manifests and their 4 configs
				// (each lists its own layers' diff IDs).
				kindManifests: 10,
				// manifest, config blob, payload layer each
				"attestations (application/vnd.in-toto+json)":                  3,
				"signatures (application/vnd.dev.cosign.artifact.sig.v1+json)": 3,
				kindOrphan: 1,
				kindFiles:  2, // index.json, oci-layout
			}
			gotKinds := map[string]int{}
			for k, b := range s.Kinds {
				gotKinds[k] = b.Files
			}
			if d := cmp.Diff(wantKinds, gotKinds); d != "" {
				t.Errorf("files by kind (-want +got):\n%s", d)
			}
			if b := s.Kinds[kindLayers]; b.Apparent != base+tops {
				t.Errorf("image layers hold %d bytes on disk, want %d", b.Apparent, base+tops)
			}
			var sum int64
			for _, b := range s.Kinds {
				sum += b.Apparent
			}
			if sum != s.Layout.Apparent {
				t.Errorf("kinds sum to %d bytes, the layout holds %d", sum, s.Layout.Apparent)
			}
		})
	}
}

func TestMeasureErrors(t *testing.T) {
	dir, idxs, _ := testLayout(t)
	if _, err := measure(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "not an OCI layout") {
		t.Errorf("empty directory: %v, want an error saying it is not an OCI layout", err)
	}
	missing := "sha256:" + strings.Repeat("0", 64)
	if _, err := measure(dir, []string{missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("an image the layout lacks: %v, want an error naming it", err)
	}
	// A damaged manifest blob: the error names its digest.
	p := filepath.Join(dir, "blobs", "sha256", idxs[1].Hex)
	if err := os.WriteFile(p, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := measure(dir, nil); err == nil || !strings.Contains(err.Error(), idxs[1].String()) {
		t.Errorf("damaged index: %v, want an error naming %s", err, idxs[1])
	}
}

func TestReportImages(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	b, _ := json.Marshal(map[string]any{"specs": []map[string]string{
		{"ref": "a:1", "imageDigest": "sha256:aa"},
		{"ref": "b:1", "imageDigest": ""},
		{"ref": "c:1", "imageDigest": "sha256:cc"},
	}})
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := reportImages(p)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"sha256:aa", "sha256:cc"}, got); d != "" {
		t.Errorf("images (-want +got):\n%s", d)
	}
	if err := os.WriteFile(p, []byte(`{"specs":[{"ref":"b:1"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reportImages(p); err == nil || !strings.Contains(err.Error(), "no built image") {
		t.Errorf("a report without images: %v, want an error", err)
	}
}
