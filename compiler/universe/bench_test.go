package universe_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hic-build/hic/compiler/apkindex"
	"github.com/hic-build/hic/compiler/testenv"
	"github.com/hic-build/hic/compiler/universe"
)

// BenchmarkRead reads the universe of a real Alpine index (4,929 packages,
// about 480 kB): what vet pays per distro.
func BenchmarkRead(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(testenv.ApkoTestdata(b), "alpine-316", "APKINDEX.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	keys := map[string][]byte{}
	k, _ := os.ReadFile(filepath.Join("..", "apkindex", "testdata", "keys", "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"))
	keys["alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"] = k
	kr, err := apkindex.NewKeyring(keys, nil)
	if err != nil {
		b.Fatal(err)
	}
	u, _, err := apkindex.Import(apkindex.ImportOptions{Distro: "alpine-x", Keys: kr}, []apkindex.Index{{Location: "alpine-316", Data: data}})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := universe.Write(&buf, u); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		u, err := universe.Read(bytes.NewReader(buf.Bytes()), "bench")
		if err != nil {
			b.Fatal(err)
		}
		u.Providers("cmd:sh")
	}
}
