package apkrepo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/sha1" //nolint:gosec // apk checksums
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/apk/expandapk"
	"chainguard.dev/apko/pkg/apk/signature"
	"github.com/google/go-cmp/cmp"
)

func samplePackage() Package {
	return Package{
		Name: "sample", Version: "2.1.0-r3", Arch: "aarch64", Origin: "sample-src",
		Description: "a sample", License: "Apache-2.0", URL: "https://example.invalid/sample",
		Depends:   []string{"glibc", "so:libz.so.1"},
		Provides:  []string{"cmd:sample=2.1.0-r3"},
		BuildTime: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		Files: []File{
			{Path: "usr/bin/sample", Mode: 0o755, Size: 5000, Seed: 9},
			{Path: "usr/bin/sample-su", Mode: 0o750 | fs.ModeSetuid | fs.ModeSetgid, Data: []byte("su\n")},
			{Path: "etc/sample.conf", Data: []byte("a = 1\n")},
			{Path: "usr/bin/smp", Kind: KindSymlink, Target: "sample"},
			{Path: "var/spool/sample", Kind: KindDir, Mode: 0o777 | fs.ModeSticky},
		},
	}
}

// dataEntry is what the data section says about one file.
type dataEntry struct {
	Type     byte
	Mode     int64
	Size     int64
	Link     string
	ModTime  time.Time
	Checksum string
	Content  string // sha1 of the bytes actually stored
}

func splitAPK(t *testing.T, b []byte) (sig, control, data []byte) {
	t.Helper()
	parts, err := expandapk.Split(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("got %d gzip streams, want 3 (signature, control, data)", len(parts))
	}
	var out [3][]byte
	for i, p := range parts {
		if out[i], err = io.ReadAll(p); err != nil {
			t.Fatal(err)
		}
	}
	return out[0], out[1], out[2]
}

func readTar(t *testing.T, gz []byte) (map[string]dataEntry, []string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string]dataEntry{}
	var order []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(body) //nolint:gosec
		got[h.Name] = dataEntry{Type: h.Typeflag, Mode: h.Mode, Size: h.Size, Link: h.Linkname,
			ModTime: h.ModTime.UTC(), Checksum: h.PAXRecords["APK-TOOLS.checksum.SHA1"], Content: hex.EncodeToString(sum[:])}
		order = append(order, h.Name)
	}
	return got, order
}

func sha1hex(r io.Reader) string {
	h := sha1.New() //nolint:gosec
	io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}

func TestBuildAPKFormat(t *testing.T) {
	key := testKey(t, "format")
	p := samplePackage()
	b, err := BuildAPK(p, key)
	if err != nil {
		t.Fatal(err)
	}
	sig, control, data := splitAPK(t, b)

	// The signature section signs SHA-256 of the control stream with key.
	sigEntries, _ := readTar(t, sig)
	if len(sigEntries) != 1 {
		t.Fatalf("signature section: %d entries, want 1", len(sigEntries))
	}
	zr, _ := gzip.NewReader(bytes.NewReader(sig))
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != ".SIGN.RSA256.format.rsa.pub" {
		t.Errorf("signature entry %q, want .SIGN.RSA256.format.rsa.pub", h.Name)
	}
	sigBytes, _ := io.ReadAll(tr)
	pub, _ := key.PublicKeyPEM()
	d := sha256.Sum256(control)
	if err := signature.RSAVerifyDigest(d[:], crypto.SHA256, sigBytes, pub); err != nil {
		t.Errorf("package signature does not verify: %v", err)
	}

	// .PKGINFO as apko reads it.
	parsed, err := apk.ParsePackage(context.Background(), bytes.NewReader(b), uint64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	dh := sha256.Sum256(data)
	type info struct {
		Name, Version, Arch, Origin, Description, License, URL string
		Depends, Provides                                      []string
		InstalledSize, Size                                    uint64
		BuildDate                                              int64
		DataHash                                               string
	}
	want := info{"sample", "2.1.0-r3", "aarch64", "sample-src", "a sample", "Apache-2.0", "https://example.invalid/sample",
		p.Depends, p.Provides, 5000 + 3 + 6, uint64(len(b)), p.BuildTime.Unix(), hex.EncodeToString(dh[:])}
	got := info{parsed.Name, parsed.Version, parsed.Arch, parsed.Origin, parsed.Description, parsed.License, parsed.URL,
		parsed.Dependencies, parsed.Provides, parsed.InstalledSize, parsed.Size, parsed.BuildDate, parsed.DataHash}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf(".PKGINFO (-want +got):\n%s", diff)
	}
	ctl := sha1.Sum(control) //nolint:gosec
	if !bytes.Equal(parsed.Checksum, ctl[:]) {
		t.Error("Q1 checksum is not SHA-1 of the control stream")
	}

	// The data section: sorted, parents added, modes and checksums right.
	entries, order := readTar(t, data)
	wantOrder := []string{"etc/", "etc/sample.conf", "usr/", "usr/bin/", "usr/bin/sample", "usr/bin/sample-su",
		"usr/bin/smp", "var/", "var/spool/", "var/spool/sample/"}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("data entries (-want +got):\n%s", diff)
	}
	genSum := sha1hex(content(9, 5000))
	mt := p.BuildTime
	wantEntries := map[string]dataEntry{
		"etc/":              {Type: tar.TypeDir, Mode: 0o755, ModTime: mt, Content: sha1hex(strings.NewReader(""))},
		"etc/sample.conf":   {Type: tar.TypeReg, Mode: 0o644, Size: 6, ModTime: mt, Checksum: sha1hex(strings.NewReader("a = 1\n")), Content: sha1hex(strings.NewReader("a = 1\n"))},
		"usr/":              {Type: tar.TypeDir, Mode: 0o755, ModTime: mt, Content: sha1hex(strings.NewReader(""))},
		"usr/bin/":          {Type: tar.TypeDir, Mode: 0o755, ModTime: mt, Content: sha1hex(strings.NewReader(""))},
		"usr/bin/sample":    {Type: tar.TypeReg, Mode: 0o755, Size: 5000, ModTime: mt, Checksum: genSum, Content: genSum},
		"usr/bin/sample-su": {Type: tar.TypeReg, Mode: 0o6750, Size: 3, ModTime: mt, Checksum: sha1hex(strings.NewReader("su\n")), Content: sha1hex(strings.NewReader("su\n"))},
		"usr/bin/smp":       {Type: tar.TypeSymlink, Mode: 0o777, Link: "sample", ModTime: mt, Checksum: sha1hex(strings.NewReader("sample")), Content: sha1hex(strings.NewReader(""))},
		"var/":              {Type: tar.TypeDir, Mode: 0o755, ModTime: mt, Content: sha1hex(strings.NewReader(""))},
		"var/spool/":        {Type: tar.TypeDir, Mode: 0o755, ModTime: mt, Content: sha1hex(strings.NewReader(""))},
		"var/spool/sample/": {Type: tar.TypeDir, Mode: 0o1777, ModTime: mt, Content: sha1hex(strings.NewReader(""))},
	}
	if diff := cmp.Diff(wantEntries, entries); diff != "" {
		t.Errorf("data section (-want +got):\n%s", diff)
	}
}

func TestBuildAPKDeterministic(t *testing.T) {
	key := testKey(t, "det")
	a, err := BuildAPK(samplePackage(), key)
	if err != nil {
		t.Fatal(err)
	}
	p := samplePackage()
	// Input order of files must not matter.
	p.Files[0], p.Files[3] = p.Files[3], p.Files[0]
	b, err := BuildAPK(p, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("same package, different bytes")
	}
	p.BuildTime = p.BuildTime.Add(time.Second)
	c, err := BuildAPK(p, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Error("another build time, same bytes")
	}
}

func TestBuildAPKDefaults(t *testing.T) {
	b, err := BuildAPK(Package{Name: "d", Version: "1-r0", Arch: "x86_64", Files: []File{{Path: "a"}, {Path: "b", Kind: KindDir}}}, testKey(t, "defaults"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := apk.ParsePackage(context.Background(), bytes.NewReader(b), uint64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Origin != "d" || p.BuildDate != DefaultBuildTime().Unix() {
		t.Errorf("origin %q builddate %d, want d and %d", p.Origin, p.BuildDate, DefaultBuildTime().Unix())
	}
	_, _, data := splitAPK(t, b)
	entries, _ := readTar(t, data)
	if entries["a"].Mode != 0o644 || entries["b/"].Mode != 0o755 || entries["a"].Size != 0 {
		t.Errorf("default modes: a %o (size %d), b %o", entries["a"].Mode, entries["a"].Size, entries["b/"].Mode)
	}
}

func TestBuildAPKRejects(t *testing.T) {
	key := testKey(t, "rejects")
	ok := func() Package {
		return Package{Name: "x", Version: "1.0-r0", Arch: "x86_64", Files: []File{{Path: "usr/bin/x", Data: []byte("x")}}}
	}
	for _, c := range []struct {
		name   string
		mutate func(*Package)
		want   string
	}{
		{"empty name", func(p *Package) { p.Name = "" }, "invalid package name"},
		{"name with =", func(p *Package) { p.Name = "x=1" }, "invalid package name"},
		{"no version", func(p *Package) { p.Version = "" }, "empty version"},
		{"bad version", func(p *Package) { p.Version = "not a version" }, "version"},
		{"go arch", func(p *Package) { p.Arch = "amd64" }, "invalid apk arch"},
		{"newline in description", func(p *Package) { p.Description = "a\nb" }, "newline"},
		{"empty depend", func(p *Package) { p.Depends = []string{""} }, "depends"},
		{"absolute path", func(p *Package) { p.Files[0].Path = "/usr/bin/x" }, "relative path"},
		{"unclean path", func(p *Package) { p.Files[0].Path = "usr//bin/x" }, "relative path"},
		{"dot-dot path", func(p *Package) { p.Files[0].Path = "../x" }, "relative path"},
		{"duplicate", func(p *Package) { p.Files = append(p.Files, p.Files[0]) }, "duplicate file"},
		{"symlink without target", func(p *Package) { p.Files = append(p.Files, File{Path: "l", Kind: KindSymlink}) }, "empty target"},
		{"target on a file", func(p *Package) { p.Files[0].Target = "y" }, "target set"},
		{"size mismatch", func(p *Package) { p.Files[0].Size = 5 }, "differs"},
		{"content on a dir", func(p *Package) { p.Files = append(p.Files, File{Path: "d", Kind: KindDir, Size: 3}) }, "has content"},
		{"file as parent", func(p *Package) { p.Files = append(p.Files, File{Path: "usr/bin/x/y"}) }, "not a dir"},
		{"unknown kind", func(p *Package) { p.Files[0].Kind = 7 }, "unknown kind"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := ok()
			c.mutate(&p)
			_, err := BuildAPK(p, key)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := BuildAPK(ok(), nil); err == nil {
		t.Error("nil key: no error")
	}
	if _, err := BuildAPK(ok(), key); err != nil {
		t.Errorf("valid package: %v", err)
	}
}
