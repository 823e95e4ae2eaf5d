package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/mirror"
)

// TestMirrorExact: hic mirror gives Alpine's main and community a directory
// each (every repository URL its own), so a package's directory names its
// one repository, and the lock and the signed SLSA provenance of an Alpine
// image built from the mirror say musl came from .../main, as it does in
// Alpine.
func TestMirrorExact(t *testing.T) {
	const (
		ref       = tamperAlpine
		main      = "https://dl-cdn.alpinelinux.org/alpine/v3.23/main"
		community = "https://dl-cdn.alpinelinux.org/alpine/v3.23/community"
	)
	dir := filepath.Join(t.TempDir(), "mirror")
	hicCLI(t, nil, "-C", tamperCatalog, "mirror", "--out", dir).must(t, 0)
	mirrors, err := mirror.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	seen := map[string]string{}
	for _, m := range mirrors {
		if other, ok := seen[m.Dir]; ok {
			t.Errorf("%s and %s share the directory %s", other, m.URL, m.Dir)
		}
		seen[m.Dir] = m.URL
		dirs[m.URL] = m.Dir
	}
	if dirs[main] != filepath.Join(dir, "alpine-3.23", "main") || dirs[community] != filepath.Join(dir, "alpine-3.23", "community") {
		t.Errorf("main in %s, community in %s", dirs[main], dirs[community])
	}

	out := filepath.Join(t.TempDir(), "out")
	bldBuild(t, 0, tamperCatalog, ref, "--today", tamperToday, "--mirrors", dir, "--out", out, "--key", bldKey(t))

	// The lock.
	b, err := os.ReadFile(filepath.Join(out, "compiled", strings.TrimSuffix(compile.FileName(ref), ".json")+".lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Archs map[string][]struct{ Name, Repository string }
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	musl := 0
	for arch, pkgs := range lock.Archs {
		for _, p := range pkgs {
			if p.Name == "musl" {
				musl++
				if p.Repository != main {
					t.Errorf("lock: %s musl from %s, want %s", arch, p.Repository, main)
				}
			}
		}
	}
	if musl != 2 {
		t.Errorf("lock: musl for %d archs, want 2", musl)
	}

	// The signed provenance of the image.
	sr := bldReport(t, out)[ref]
	var prov attest.ProvenancePredicate
	attPredicate(t, out, sr.ImageDigest, attest.PredicateSLSAProvenance, &prov)
	musl = 0
	for _, d := range prov.BuildDefinition.ResolvedDependencies {
		if d.Name != "musl" {
			continue
		}
		musl++
		purl, err := packageurl.FromString(d.URI)
		if err != nil {
			t.Fatal(err)
		}
		if purl.Qualifiers.Map()["repository_url"] != main {
			t.Errorf("provenance: musl %s, want repository_url %s", d.URI, main)
		}
		if d.Annotations["repository"] != main {
			t.Errorf("provenance: musl of repository %q, want %s", d.Annotations["repository"], main)
		}
		// Read from the generated mirror, not downloaded from main: no
		// download location, and the source says so.
		if d.DownloadLocation != "" || d.Annotations["source"] != attest.SourceSyntheticMirror {
			t.Errorf("provenance: musl downloaded from %q, source %q, want none and %s", d.DownloadLocation, d.Annotations["source"], attest.SourceSyntheticMirror)
		}
	}
	if musl == 0 {
		t.Error("provenance names no musl")
	}
}
