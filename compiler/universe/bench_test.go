package universe

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hic-build/hic/compiler/testenv"
)

// BenchmarkRead reads the universe of a real Alpine index (4,929 packages,
// about 480 kB): what vet pays per distro.
func BenchmarkRead(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(testenv.ApkoTestdata(b), "alpine-316", "APKINDEX.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	keys := map[string][]byte{}
	k, _ := os.ReadFile(filepath.Join("testdata", "keys", "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"))
	keys["alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"] = k
	kr, err := NewKeyring(keys, nil)
	if err != nil {
		b.Fatal(err)
	}
	u, _, err := Import(ImportOptions{Distro: "alpine-x", Keys: kr}, []Index{{Location: "alpine-316", Data: data}})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, u); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		u, err := Read(bytes.NewReader(buf.Bytes()), "bench")
		if err != nil {
			b.Fatal(err)
		}
		u.Providers("cmd:sh")
	}
}
