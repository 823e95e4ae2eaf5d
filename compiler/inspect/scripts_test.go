package inspect

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/testenv"
)

// realScripts returns the install scripts of Alpine's real
// alpine-baselayout-3.4.0-r0 package (apko's module test data): its
// control segment, the second gzip stream of the .apk.
func realScripts(t *testing.T) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.ApkoTestdata(t), "alpine-317", "alpine-baselayout-3.4.0-r0.apk"))
	if err != nil {
		t.Fatal(err)
	}
	br := bytes.NewReader(b)
	out := map[string][]byte{}
	for stream := 0; stream < 2; stream++ {
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		body, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if stream == 0 {
			continue // the signature
		}
		tr := tar.NewReader(bytes.NewReader(body))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(h.Name, ".") && h.Name != ".PKGINFO" {
				out[h.Name], _ = io.ReadAll(tr)
			}
		}
	}
	if len(out[".post-install"]) == 0 {
		t.Fatalf("no .post-install in the real package: %v", out)
	}
	return out
}

// scriptsTar writes apk's scripts database as apko does.
func scriptsTar(t *testing.T, pkg string, scripts map[string][]byte) string {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range scripts {
		if err := tw.WriteHeader(&tar.Header{Name: pkg + ".Q1kDyd7gmc4smNC8rEXvAoJYbyyQQ=" + name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	return buf.String()
}

// TestInstallScripts: the real alpine-baselayout's scripts are listed; in a
// runtime image they fail the image (they would create files and change
// modes), unless an exception says how the spec covers them; in a dev
// image they are a warning.
func TestInstallScripts(t *testing.T) {
	scripts := realScripts(t)
	layer := append(baseLayer(),
		dir("usr/lib", 0o755), dir("usr/lib/apk", 0o755), dir("usr/lib/apk/db", 0o755),
		file("usr/lib/apk/db/scripts.tar", 0o644, scriptsTar(t, "alpine-baselayout-3.4.0-r0", scripts)),
		file("usr/lib/apk/db/triggers", 0o644, "Q1def= /usr/share/fonts/*\n"))
	rfs, err := FromLayers(imageOf(t, layer))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := InstallScripts(rfs)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range ss {
		kinds = append(kinds, s.Package+" "+s.Kind)
	}
	for _, want := range []string{"alpine-baselayout-3.4.0-r0 post-install", "alpine-baselayout-3.4.0-r0 pre-install", "baselayout-3.0-r1 trigger"} {
		if !strings.Contains(strings.Join(kinds, "\n"), want) {
			t.Errorf("scripts %v do not list %q", kinds, want)
		}
	}

	check := func(img compile.Image) []string {
		fs, err := Check(context.Background(), Input{Image: img, Platform: "linux/amd64", FS: rfs, SBOM: baseSBOM})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range fs {
			if f.Rule == RuleInstallScripts {
				state := string(f.Severity)
				if f.Failing() {
					state = "failing"
				}
				out = append(out, state+": "+f.Message)
			}
		}
		return out
	}
	runtime := check(baseImage())
	if len(runtime) != 2 || !strings.HasPrefix(runtime[0], "failing: linux/amd64: alpine-baselayout-3.4.0-r0 has install scripts apko does not run") ||
		!strings.Contains(runtime[0], "would change files") || !strings.Contains(runtime[1], "baselayout-3.0-r1 has install scripts apko does not run: trigger") {
		t.Errorf("runtime image: %q", runtime)
	}
	waived := baseImage()
	waived.Policy.Exceptions = []compile.Exception{{Rule: RuleInstallScripts, Reason: "the spec's paths create what the scripts would"}}
	if got := check(waived); len(got) != 2 || strings.HasPrefix(got[0], "failing") {
		t.Errorf("waived: %q", got)
	}
	dev := baseImage()
	dev.Policy.ForbidShell = false
	if got := check(dev); len(got) != 2 || !strings.HasPrefix(got[0], "warning") {
		t.Errorf("dev image: %q", got)
	}
}
