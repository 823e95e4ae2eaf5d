package pipeline

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"chainguard.dev/apko/pkg/build/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/compile"
)

// fakeLock is the fake builder's lock: the packages of the spec.
type fakeLock struct {
	Ref      string   `json:"ref"`
	Packages []string `json:"packages"`
}

func (l fakeLock) Marshal() ([]byte, error) { return json.Marshal(l) }

// PackageNames are the names of the packages ("app" of "app=1").
func (l fakeLock) PackageNames() []string {
	var names []string
	for _, p := range l.Packages {
		name, _, _ := strings.Cut(p, "=")
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// tarEntry is one file of a fake image's layer.
type tarEntry struct {
	name string
	mode int64
	dir  bool
	data string
}

// fakeBuilder builds small two-platform images from hand-made tar layers.
type fakeBuilder struct {
	resolveErr map[string]error
	buildErr   map[string]error
	extra      map[string][]tarEntry // extra files per spec ref
	sbomDrops  map[string]string     // package left out of a spec's SBOM
	block      map[string]bool       // Build waits for ctx to end
	stubborn   map[string]bool       // Build ignores ctx and waits for release, then succeeds
	release    chan struct{}         // closed to let stubborn builds end
	gate       chan struct{}         // if not nil, every Build waits for a value (or ctx)

	started chan string // receives each ref when its Build starts (if not nil)

	mu     sync.Mutex
	builds map[string]int

	inflight, maxInflight atomic.Int32
}

func (f *fakeBuilder) Resolve(ctx context.Context, img compile.Image) (Lock, error) {
	if err := f.resolveErr[img.Ref]; err != nil {
		return nil, err
	}
	return fakeLock{Ref: img.Ref, Packages: []string{"app=" + img.Metadata.Version, "baselayout=1-r0"}}, nil
}

func (f *fakeBuilder) buildCount(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.builds[ref]
}

func (f *fakeBuilder) Build(ctx context.Context, img compile.Image, lock Lock) (*Built, error) {
	f.mu.Lock()
	if f.builds == nil {
		f.builds = map[string]int{}
	}
	f.builds[img.Ref]++
	f.mu.Unlock()
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.started != nil {
		f.started <- img.Ref
	}
	if f.stubborn[img.Ref] {
		<-f.release
	} else if f.block[img.Ref] {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := f.buildErr[img.Ref]; err != nil {
		return nil, err
	}
	if _, ok := lock.(fakeLock); !ok {
		return nil, errors.New("not my lock")
	}
	b := &Built{}
	idx := mutate.IndexMediaType(empty.Index, ggcrtypes.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		im, sbom, err := f.image(img, arch)
		if err != nil {
			return nil, err
		}
		plat := v1.Platform{OS: "linux", Architecture: arch}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: im, Descriptor: v1.Descriptor{Platform: &plat}})
		b.Platforms = append(b.Platforms, Platform{Platform: plat.String(), Image: im, SBOM: sbom})
	}
	b.Index = idx
	b.IndexSBOM = []byte(`{"spdxVersion":"SPDX-2.3","name":"index","packages":[]}`)
	return b, nil
}

func (f *fakeBuilder) image(img compile.Image, arch string) (v1.Image, []byte, error) {
	apkArch := types.ParseArchitecture(arch).ToAPK()
	pkgs := [][2]string{{"app", img.Metadata.Version}, {"baselayout", "1-r0"}}
	db := ""
	for _, p := range pkgs {
		db += fmt.Sprintf("P:%s\nV:%s\nA:%s\n\n", p[0], p[1], apkArch)
	}
	ents := []tarEntry{
		{name: "etc", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: "root:x:0:0::/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: "usr", mode: 0o755, dir: true},
		{name: "usr/bin", mode: 0o755, dir: true},
		{name: "usr/bin/app", mode: 0o755, data: "app " + img.Ref + " " + arch},
		{name: "usr/lib", mode: 0o755, dir: true},
		{name: "usr/lib/apk", mode: 0o755, dir: true},
		{name: "usr/lib/apk/db", mode: 0o755, dir: true},
		{name: "usr/lib/apk/db/installed", mode: 0o644, data: db},
	}
	ents = append(ents, f.extra[img.Ref]...)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, nil, err
		}
		io.WriteString(tw, e.data)
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(ggcrtypes.OCILayer))
	if err != nil {
		return nil, nil, err
	}
	im, err := mutate.AppendLayers(mutate.MediaType(empty.Image, ggcrtypes.OCIManifestSchema1), layer)
	if err != nil {
		return nil, nil, err
	}
	cf, err := im.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if im, err = mutate.ConfigFile(im, cf); err != nil {
		return nil, nil, err
	}
	type ref struct {
		Type    string `json:"referenceType"`
		Locator string `json:"referenceLocator"`
	}
	type pkg struct {
		Name         string `json:"name"`
		Version      string `json:"versionInfo"`
		ExternalRefs []ref  `json:"externalRefs"`
	}
	doc := struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []pkg  `json:"packages"`
	}{SPDXVersion: "SPDX-2.3"}
	for _, p := range pkgs {
		if f.sbomDrops[img.Ref] == p[0] {
			continue
		}
		doc.Packages = append(doc.Packages, pkg{p[0], p[1], []ref{{"purl", fmt.Sprintf("pkg:apk/wolfi/%s@%s?arch=%s", p[0], p[1], apkArch)}}})
	}
	sbom, err := json.Marshal(doc)
	return im, sbom, err
}

func spec(name, version string) compile.Image {
	return compile.Image{
		Ref:        name + ":" + version + "-wolfi-runtime",
		Repository: name,
		Tags:       []string{version, version + "-wolfi"},
		Config:     compile.Config{Entrypoint: compile.Entrypoint{Command: "/usr/bin/app"}},
		Metadata:   compile.Metadata{Image: name, Version: version, SourceFile: name + "/image.cue"},
		Policy: compile.Policy{
			RunAsUID: 65532, RunAsUser: "nonroot",
			ForbidShell: true, ShellPaths: []string{"/bin/sh", "/bin/busybox"},
			ForbidPackageManager: true, PackageManagerPaths: []string{"/sbin/apk"},
		},
	}
}
