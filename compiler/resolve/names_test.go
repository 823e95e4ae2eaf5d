package resolve

import (
	"os"
	"path/filepath"
	"testing"

	"chainguard.dev/apko/pkg/apk/apk"

	"github.com/hic-build/hic/compiler/testenv"
)

// TestRealPackageIDsPass checks every package of indexes no one on this
// project wrote (Alpine 3.16 and 3.17 main, apko's Wolfi-style test index):
// the name rule must not refuse a real package.
func TestRealPackageIDsPass(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	n := 0
	for _, index := range []string{"alpine-316/APKINDEX.tar.gz", "alpine-317/APKINDEX.tar.gz", "APKINDEX.tar.gz"} {
		f, err := os.Open(filepath.Join(td, index))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := apk.IndexFromArchive(f)
		if err != nil {
			t.Fatalf("%s: %v", index, err)
		}
		for _, p := range idx.Packages {
			if err := CheckPackageID(p.Name, p.Version, p.Arch); err != nil {
				t.Errorf("%s: %v", index, err)
			}
			n++
		}
	}
	if n < 1000 {
		t.Fatalf("checked %d real packages, want the indexes' thousands", n)
	}
}

// TestHostilePackageIDsRefused: names and versions that would become paths
// outside the package cache or the mirror.
func TestHostilePackageIDsRefused(t *testing.T) {
	for _, id := range [][3]string{
		{"../../../../tmp/evil", "1.0-r0", "x86_64"},
		{"a/b", "1.0-r0", "x86_64"},
		{"..", "1.0-r0", "x86_64"},
		{".hidden", "1.0-r0", "x86_64"},
		{"", "1.0-r0", "x86_64"},
		{"ok", "1.0/../../x", "x86_64"},
		{"ok", "..", "x86_64"},
		{"ok", "", "x86_64"},
		{"ok", "1.0 r0", "x86_64"},
		{"ok", "1.0-r0", "../x"},
		{"ok\n", "1.0-r0", "x86_64"},
	} {
		if err := CheckPackageID(id[0], id[1], id[2]); err == nil {
			t.Errorf("CheckPackageID(%q, %q, %q) = nil, want an error", id[0], id[1], id[2])
		}
	}
	if err := CheckPackageID("libstdc++", "14.2.0_git20250101-r3", "aarch64"); err != nil {
		t.Errorf("a plain name refused: %v", err)
	}
}
