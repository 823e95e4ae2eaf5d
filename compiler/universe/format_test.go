package universe

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const sample = `# a comment
@universe 1
@distro alpine-3.23
@arch aarch64 x86_64
@source main url=https://dl-cdn.alpinelinux.org/alpine/v3.23/main date=2026-11-30 index.aarch64=sha256:aa index.x86_64=sha256:bb signer=alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub
@source community url=https://dl-cdn.alpinelinux.org/alpine/v3.23/community date=2026-11-30 verified=no

apache2 2.4.65-r0,2.4.62-r1 d=libapr,so:libc.musl-x86_64.so.1 p=cmd:apachectl,cmd:httpd s=pre-install
musl 1.2.5-r10 p=so:libc.musl-x86_64.so.1=1
openjdk21-jre 21.0.9_p10-r0 r=community o=openjdk21 a=x86_64 d=java-common verified=no
postgresql-common 1.2-r0 s=trigger sf=/usr/bin/postgres
tomcat 9.0.1-r0 f=/usr/share/tomcat/bin/catalina.sh removed=2026-06-10
`

func sampleUniverse() *Universe {
	return &Universe{
		Distro: "alpine-3.23",
		Archs:  []string{"aarch64", "x86_64"},
		Sources: []Source{
			{Name: "main", URL: "https://dl-cdn.alpinelinux.org/alpine/v3.23/main", Date: "2026-11-30",
				Indexes: map[string]string{"aarch64": "sha256:aa", "x86_64": "sha256:bb"},
				Signer:  "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"},
			{Name: "community", URL: "https://dl-cdn.alpinelinux.org/alpine/v3.23/community", Date: "2026-11-30", Unverified: true},
		},
		Packages: []Package{
			{Name: "apache2", Versions: []string{"2.4.65-r0", "2.4.62-r1"}, Depends: []string{"libapr", "so:libc.musl-x86_64.so.1"},
				Provides: []string{"cmd:apachectl", "cmd:httpd"}, Scripts: []string{"pre-install"}},
			{Name: "musl", Versions: []string{"1.2.5-r10"}, Provides: []string{"so:libc.musl-x86_64.so.1=1"}},
			{Name: "openjdk21-jre", Versions: []string{"21.0.9_p10-r0"}, Source: "community", Origin: "openjdk21",
				Archs: []string{"x86_64"}, Depends: []string{"java-common"}, Unverified: true},
			{Name: "postgresql-common", Versions: []string{"1.2-r0"}, Scripts: []string{"trigger"}, ScriptFiles: []string{"/usr/bin/postgres"}},
			{Name: "tomcat", Versions: []string{"9.0.1-r0"}, Files: []string{"/usr/share/tomcat/bin/catalina.sh"}, Removed: "2026-06-10"},
		},
	}
}

var cmpUniverse = cmpopts.IgnoreUnexported(Universe{})

func TestReadWriteRoundTrip(t *testing.T) {
	got, err := Read(strings.NewReader(sample), "sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := sampleUniverse()
	if d := cmp.Diff(want, got, cmpUniverse, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("Read (-want +got):\n%s", d)
	}
	var buf bytes.Buffer
	if err := Write(&buf, got); err != nil {
		t.Fatal(err)
	}
	// Written canonically: the comment line is the writer's own, the rest
	// is the sample byte for byte except the blank line and field order.
	again, err := Read(bytes.NewReader(buf.Bytes()), "written")
	if err != nil {
		t.Fatalf("reading what Write wrote: %v\n%s", err, buf.String())
	}
	if d := cmp.Diff(want, again, cmpUniverse, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	wantLine := "openjdk21-jre 21.0.9_p10-r0 o=openjdk21 a=x86_64 r=community d=java-common verified=no\n"
	if !strings.Contains(buf.String(), wantLine) {
		t.Errorf("written file lacks the canonical line %q:\n%s", wantLine, buf.String())
	}
}

func TestWriteNormalises(t *testing.T) {
	u := &Universe{Distro: "wolfi", Archs: []string{"x86_64", "aarch64"}, Sources: []Source{{Name: "os"}}, Packages: []Package{
		{Name: "zlib", Versions: []string{"1.3-r0", "1.3.1-r2", "1.3.1-r10", "1.3-r0"}, Depends: []string{"b", "a", "b"}, Origin: "zlib", Archs: []string{"x86_64", "aarch64"}, Source: "os"},
		{Name: "bash", Versions: []string{"5.2-r0"}},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, u); err != nil {
		t.Fatal(err)
	}
	want := `# hic package universe of wolfi: one package per line; format in compiler/universe (go doc).
@universe 1
@distro wolfi
@arch aarch64 x86_64
@source os
bash 5.2-r0
zlib 1.3.1-r10,1.3.1-r2,1.3-r0 d=a,b
`
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("Write (-want +got):\n%s", d)
	}
}

func TestReadErrors(t *testing.T) {
	head := "@universe 1\n@distro wolfi\n"
	tests := []struct {
		name, in, want string
	}{
		{"no header", "bash 1-r0\n", "sample:1: missing @universe 1 header"},
		{"future format", "@universe 2\n", "sample:1: unsupported format"},
		{"no distro", "@universe 1\nbash 1-r0\n", "missing @distro"},
		{"unsorted", head + "zlib 1-r0\nbash 1-r0\n", "sample:4: package bash is out of order (after zlib)"},
		{"twice", head + "bash 1-r0\nbash 2-r0\n", "sample:4: package bash listed twice"},
		{"no versions", head + "bash\n", "sample:3: want NAME VERSIONS"},
		{"unknown field", head + "bash 1-r0 x=1\n", `sample:3: package bash: unknown field "x"`},
		{"field twice", head + "bash 1-r0 d=a d=b\n", "sample:3: package bash: field d= given twice"},
		{"bad field", head + "bash 1-r0 d\n", `sample:3: package bash: field "d" is not KEY=VALUE`},
		{"header late", head + "bash 1-r0\n@arch x86_64\n", "sample:4: header line \"@arch\" after the first package"},
		{"unknown source", head + "bash 1-r0 r=main\n", `package bash names source "main"`},
		{"bad verified", head + "bash 1-r0 verified=maybe\n", "want yes or no"},
		{"unknown header", "@universe 1\n@colour blue\n", "unknown header @colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in), "sample")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read error = %v, want it to contain %q", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
		})
	}
}

func TestWriteRejectsUnwritableValues(t *testing.T) {
	for _, p := range []Package{
		{Name: "a b", Versions: []string{"1-r0"}},
		{Name: "a", Versions: []string{"1-r0"}, Depends: []string{"x,y"}},
		{Name: "a"},
		{Name: "@a", Versions: []string{"1-r0"}},
	} {
		u := &Universe{Distro: "wolfi", Packages: []Package{p}}
		if err := Write(&bytes.Buffer{}, u); err == nil {
			t.Errorf("Write accepted package %+v", p)
		}
	}
}

func TestWriteDirSplitsLargeUniverses(t *testing.T) {
	dir := t.TempDir()
	small := sampleUniverse()
	if err := WriteDir(dir, small); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "alpine-3.23.txt")); err != nil {
		t.Fatalf("small universe not written as one file: %v", err)
	}
	// A universe over MaxFileSize goes into parts by first letter.
	big := &Universe{Distro: "alpine-3.23", Archs: small.Archs, Sources: small.Sources}
	long := strings.Repeat("x", 200)
	for i := 0; i < 12000; i++ {
		big.Packages = append(big.Packages, Package{Name: fmt.Sprintf("%c%05d", 'a'+i%26, i), Versions: []string{"1.0-r0"}, Files: []string{"/usr/share/" + long}})
	}
	big.Packages = append(big.Packages, Package{Name: "7zip", Versions: []string{"24.09-r0"}})
	if err := WriteDir(dir, big); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "alpine-3.23.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("single file left next to the parts: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "alpine-3.23"))
	if len(entries) != 27 {
		t.Errorf("got %d parts, want 27 (a-z and 0)", len(entries))
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Size() >= 2<<20 {
			t.Errorf("part %s is %d bytes", e.Name(), fi.Size())
		}
	}
	got, err := ReadDir(dir, "alpine-3.23")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Packages) != len(big.Packages) {
		t.Fatalf("ReadDir: %d packages, want %d", len(got.Packages), len(big.Packages))
	}
	if got.Lookup("7zip") == nil || got.Lookup("z00025") == nil {
		t.Error("lookup across parts failed")
	}
	// Shrinking again returns to one file and removes the parts.
	if err := WriteDir(dir, small); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "alpine-3.23")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parts left after writing a small universe: %v", err)
	}
	ds, err := Distros(dir)
	if err != nil || !cmp.Equal(ds, []string{"alpine-3.23"}) {
		t.Errorf("Distros = %v, %v", ds, err)
	}
}

func TestReadDirErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadDir(dir, "wolfi"); !errors.Is(err, ErrNotExist) {
		t.Errorf("missing universe: error %v, want ErrNotExist", err)
	}
	os.WriteFile(filepath.Join(dir, "wolfi.txt"), []byte("@universe 1\n@distro alpine-3.22\n"), 0o644)
	if _, err := ReadDir(dir, "wolfi"); err == nil || !strings.Contains(err.Error(), "@distro alpine-3.22, but the file is the universe of wolfi") {
		t.Errorf("wrong distro: error %v", err)
	}
	os.Mkdir(filepath.Join(dir, "wolfi"), 0o755)
	if _, err := ReadDir(dir, "wolfi"); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("both forms: error %v", err)
	}
}
