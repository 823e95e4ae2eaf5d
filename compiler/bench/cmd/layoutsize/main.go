// Command layoutsize measures an OCI layout hic build wrote against the
// images it holds: the compressed layer bytes summed over every platform
// manifest of every image (what the images would weigh stored one by one),
// the unique layers and their bytes, and the layout's size on disk, split by
// what fills it (image layers, image configs and manifests, each kind of
// referrer, blobs nothing lists, other files).
//
// It reads index.json once and each manifest blob by digest once. The images
// are the image digests of hic's report.json (-report), or, without it, every
// index.json entry that is not a referrer (has no subject).
//
//	go run ./compiler/bench/cmd/layoutsize -layout OUT/oci -report OUT/report.json
//
// The first line of its output is a one-line summary; the lines after it
// break the layout's bytes down by kind.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

func main() {
	layoutDir := flag.String("layout", "", "OCI layout directory (OUT/oci)")
	report := flag.String("report", "", "hic's report.json: measure the images it lists (default: every index.json entry that is not a referrer)")
	flag.Parse()
	if *layoutDir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: layoutsize -layout OUT/oci [-report OUT/report.json]")
		os.Exit(2)
	}
	var images []string
	if *report != "" {
		var err error
		if images, err = reportImages(*report); err != nil {
			fmt.Fprintln(os.Stderr, "layoutsize:", err)
			os.Exit(1)
		}
	}
	s, err := measure(*layoutDir, images)
	if err != nil {
		fmt.Fprintln(os.Stderr, "layoutsize:", err)
		os.Exit(1)
	}
	s.write(os.Stdout)
}

// descriptor is the part of an OCI descriptor, index or manifest this
// command reads.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	MediaType    string       `json:"mediaType"`
	ArtifactType string       `json:"artifactType,omitempty"`
	Manifests    []descriptor `json:"manifests,omitempty"`
	Config       *descriptor  `json:"config,omitempty"`
	Layers       []descriptor `json:"layers,omitempty"`
	Subject      *descriptor  `json:"subject,omitempty"`
}

// bytesOf is a file's apparent size (what du -b counts) and its allocated
// size on disk (what du counts: 512-byte blocks).
type bytesOf struct {
	Files          int
	Apparent, Disk int64
}

func (b *bytesOf) add(o bytesOf) {
	b.Files += o.Files
	b.Apparent += o.Apparent
	b.Disk += o.Disk
}

// sizes is what measure found.
type sizes struct {
	Images int
	// LayerRefs and Summed count every layer of every platform manifest of
	// every image, shared layers once per reference.
	LayerRefs int
	Summed    int64
	// Unique and UniqueBytes count each layer digest once.
	Unique      int
	UniqueBytes int64
	// Layout is every file under the layout directory; Kinds splits it by
	// what the blobs are (a blob counts once, for the first kind that
	// reaches it: image layers and manifests first, then referrers in
	// index.json order).
	Layout bytesOf
	Kinds  map[string]bytesOf
}

const (
	kindLayers    = "image layers"
	kindManifests = "image indexes, manifests and configs"
	kindOrphan    = "blobs nothing in index.json reaches"
	kindFiles     = "index.json and other files"
)

// referrerKind names a referrer by its artifact type.
func referrerKind(artifactType string) string {
	switch {
	case strings.Contains(artifactType, "spdx"), strings.Contains(artifactType, "cyclonedx"):
		return "SBOMs (" + artifactType + ")"
	case strings.Contains(artifactType, "cosign.artifact.sig"):
		return "signatures (" + artifactType + ")"
	case strings.Contains(artifactType, "in-toto"):
		return "attestations (" + artifactType + ")"
	case artifactType == "":
		return "referrers without an artifact type"
	}
	return "referrers (" + artifactType + ")"
}

func reportImages(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r struct {
		Specs []struct {
			ImageDigest string `json:"imageDigest"`
		} `json:"specs"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	for _, s := range r.Specs {
		if s.ImageDigest != "" {
			out = append(out, s.ImageDigest)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no built image (no spec has an imageDigest)", path)
	}
	return out, nil
}

// ociLayout reads one OCI layout's blobs, each manifest once.
type ociLayout struct {
	dir       string
	manifests map[string]*manifest
}

func (l *ociLayout) blobPath(digest string) (string, error) {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok || alg == "" || hex == "" || strings.ContainsAny(hex, "/\\.") {
		return "", fmt.Errorf("bad digest %q", digest)
	}
	return filepath.Join(l.dir, "blobs", alg, hex), nil
}

func (l *ociLayout) manifest(digest string) (*manifest, error) {
	if m, ok := l.manifests[digest]; ok {
		return m, nil
	}
	p, err := l.blobPath(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", digest, err)
	}
	m := &manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("manifest %s (%s): %w", digest, p, err)
	}
	l.manifests[digest] = m
	return m, nil
}

func isIndex(mediaType string) bool {
	return mediaType == "application/vnd.oci.image.index.v1+json" ||
		mediaType == "application/vnd.docker.distribution.manifest.list.v2+json"
}

func isManifest(mediaType string) bool {
	return isIndex(mediaType) || mediaType == "application/vnd.oci.image.manifest.v1+json" ||
		mediaType == "application/vnd.docker.distribution.manifest.v2+json"
}

// measure reads the layout at dir. images are the image digests to sum
// (duplicates count once); nil means every index.json entry without a
// subject.
func measure(dir string, images []string) (*sizes, error) {
	l := &ociLayout{dir: dir, manifests: map[string]*manifest{}}
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("not an OCI layout: %w", err)
	}
	var top manifest
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "index.json"), err)
	}
	if images == nil {
		seen := map[string]bool{}
		for _, d := range top.Manifests {
			if seen[d.Digest] || !isManifest(d.MediaType) {
				continue
			}
			seen[d.Digest] = true
			m, err := l.manifest(d.Digest)
			if err != nil {
				return nil, err
			}
			if m.Subject == nil {
				images = append(images, d.Digest)
			}
		}
	}

	s := &sizes{Kinds: map[string]bytesOf{}}
	kindOf := map[string]string{} // blob digest -> kind
	claim := func(digest, kind string) {
		if _, ok := kindOf[digest]; !ok {
			kindOf[digest] = kind
		}
	}
	uniq := map[string]bool{}
	var walkImage func(digest string) error
	// A platform manifest two image indexes share counts once per image:
	// Summed is what the images weigh one by one.
	walkImage = func(digest string) error {
		m, err := l.manifest(digest)
		if err != nil {
			return err
		}
		claim(digest, kindManifests)
		for _, c := range m.Manifests {
			if err := walkImage(c.Digest); err != nil {
				return err
			}
		}
		if m.Config != nil {
			claim(m.Config.Digest, kindManifests)
		}
		for _, ly := range m.Layers {
			s.LayerRefs++
			s.Summed += ly.Size
			if !uniq[ly.Digest] {
				uniq[ly.Digest] = true
				s.Unique++
				s.UniqueBytes += ly.Size
			}
			claim(ly.Digest, kindLayers)
		}
		return nil
	}
	counted := map[string]bool{}
	for _, d := range images {
		if counted[d] {
			continue
		}
		counted[d] = true
		s.Images++
		if err := walkImage(d); err != nil {
			return nil, fmt.Errorf("image %s: %w", d, err)
		}
	}
	// Everything else index.json lists: referrers, rejected images, ...
	var walkOther func(digest, kind string) error
	walkOther = func(digest, kind string) error {
		if _, done := kindOf[digest]; done {
			return nil
		}
		claim(digest, kind)
		m, err := l.manifest(digest)
		if err != nil {
			return err
		}
		for _, c := range m.Manifests {
			if err := walkOther(c.Digest, kind); err != nil {
				return err
			}
		}
		if m.Config != nil {
			claim(m.Config.Digest, kind)
		}
		for _, ly := range m.Layers {
			claim(ly.Digest, kind)
		}
		return nil
	}
	for _, d := range top.Manifests {
		if !isManifest(d.MediaType) {
			claim(d.Digest, "other index.json entries ("+d.MediaType+")")
			continue
		}
		kind := "other images (not in the report)"
		at := d.ArtifactType
		if m, err := l.manifest(d.Digest); err != nil {
			return nil, err
		} else if m.Subject != nil {
			if at == "" {
				at = m.ArtifactType
			}
			if at == "" && m.Config != nil {
				at = m.Config.MediaType
			}
			kind = referrerKind(at)
		}
		if err := walkOther(d.Digest, kind); err != nil {
			return nil, err
		}
	}

	blobs := filepath.Join(dir, "blobs")
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		b := bytesOf{Files: 1, Apparent: fi.Size(), Disk: fi.Size()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			b.Disk = st.Blocks * 512
		}
		s.Layout.add(b)
		kind := kindFiles
		if rel, err := filepath.Rel(blobs, p); err == nil && !strings.HasPrefix(rel, "..") {
			alg, hex := filepath.Split(rel)
			kind = kindOrphan
			if k, ok := kindOf[strings.TrimSuffix(alg, string(filepath.Separator))+":"+hex]; ok {
				kind = k
			}
		}
		k := s.Kinds[kind]
		k.add(b)
		s.Kinds[kind] = k
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.Images == 0 {
		return nil, errors.New("the layout holds no image")
	}
	return s, nil
}

// human is n bytes in GB, MB or kB (powers of 1000).
func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f kB", float64(n)/1e3)
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func (s *sizes) write(w io.Writer) {
	fmt.Fprintf(w, "%d images, %d layer references, %s summed; %d unique layers, %s (%.1f %% of summed); layout %d files, %s (%.1f %% of summed), %s on disk in blocks (%.1f %%)\n",
		s.Images, s.LayerRefs, human(s.Summed), s.Unique, human(s.UniqueBytes), pct(s.UniqueBytes, s.Summed),
		s.Layout.Files, human(s.Layout.Apparent), pct(s.Layout.Apparent, s.Summed), human(s.Layout.Disk), pct(s.Layout.Disk, s.Summed))
	kinds := make([]string, 0, len(s.Kinds))
	for k := range s.Kinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		a, b := s.Kinds[kinds[i]], s.Kinds[kinds[j]]
		if a.Disk != b.Disk {
			return a.Disk > b.Disk
		}
		return kinds[i] < kinds[j]
	})
	for _, k := range kinds {
		b := s.Kinds[k]
		fmt.Fprintf(w, "  %s: %d files, %s (%.1f %%), %s on disk (%.1f %%)\n",
			k, b.Files, human(b.Apparent), pct(b.Apparent, s.Layout.Apparent), human(b.Disk), pct(b.Disk, s.Layout.Disk))
	}
}
