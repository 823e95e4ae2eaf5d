package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/build"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/resolve"
)

// TestAttestInputPackageFiles: the attested packages carry their files'
// digests and sources: fetched (with the URL), from a mirror, or from a
// mirror hic mirror generated (SyntheticRepositories); a package whose file
// the builder does not know has neither.
func TestAttestInputPackageFiles(t *testing.T) {
	const (
		wolfi  = "https://packages.wolfi.dev/os"
		extra  = "https://apk.example.test/extra"
		fetchd = "https://apk.example.test/fetched"
	)
	w := &worker{opts: Options{SyntheticRepositories: []string{wolfi}}}
	pkgs := []resolve.Package{
		{Name: "a", Version: "1", Arch: "x86_64", Repository: wolfi + "/", Checksum: "Q1a="},
		{Name: "b", Version: "1", Arch: "x86_64", Repository: extra, Checksum: "Q1b="},
		{Name: "c", Version: "1", Arch: "x86_64", Repository: fetchd, Checksum: "Q1c="},
		{Name: "d", Version: "1", Arch: "x86_64", Repository: fetchd, Checksum: "Q1d="},
	}
	files := map[string]build.PackageFile{
		"a": {Digest: "sha256:aa", Mirror: true},
		"b": {Digest: "sha256:bb", Mirror: true},
		"c": {Digest: "sha256:cc", URL: fetchd + "/x86_64/c-1.apk"},
	}
	b := &Built{Index: mutate.IndexMediaType(empty.Index, ggcrtypes.OCIImageIndex),
		Platforms: []Platform{{Platform: "linux/amd64", Image: empty.Image, Packages: pkgs, Files: files}}}
	got, err := w.attestInput(compile.Image{Ref: "x:1", Repository: "x"}, b, report.SpecReport{})
	if err != nil {
		t.Fatal(err)
	}
	want := []attest.Package{
		{Name: "a", Version: "1", Arch: "x86_64", Repository: wolfi + "/", Checksum: "Q1a=", FileDigest: "sha256:aa", Source: attest.SourceSyntheticMirror},
		{Name: "b", Version: "1", Arch: "x86_64", Repository: extra, Checksum: "Q1b=", FileDigest: "sha256:bb", Source: attest.SourceMirror},
		{Name: "c", Version: "1", Arch: "x86_64", Repository: fetchd, Checksum: "Q1c=", FileDigest: "sha256:cc", Source: attest.SourceRepository, DownloadURL: fetchd + "/x86_64/c-1.apk"},
		{Name: "d", Version: "1", Arch: "x86_64", Repository: fetchd, Checksum: "Q1d="},
	}
	if len(got.Image.Platforms) != 1 {
		t.Fatalf("%d platforms", len(got.Image.Platforms))
	}
	if d := cmp.Diff(want, got.Image.Platforms[0].Packages); d != "" {
		t.Errorf("attested packages (-want +got):\n%s", d)
	}
}
