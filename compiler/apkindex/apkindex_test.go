package apkindex

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/testenv"
	"github.com/hic-build/hic/compiler/universe"
)

// Alpine's signing keys (https://alpinelinux.org/keys/), as apko's tests
// carry them, pinned by the fingerprints `openssl pkey -pubin -outform DER
// | sha256sum` prints.
const (
	alpineKey6165ee59 = "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
	alpineKey616ae350 = "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub"
	alpineFP6165ee59  = "sha256:8a70fc55f1a6fb2a392ad5a3e71aff82a637b2b33659c046f6b6a909bb5d1ab7"
	alpineFP616ae350  = "sha256:479f16f4170a9ea0c65e1de854860949b1a549cfa1f43552f7a2e821c9e2f409"
)

func alpineKeyring(t *testing.T) *Keyring {
	t.Helper()
	keys := map[string][]byte{}
	for _, n := range []string{alpineKey6165ee59, alpineKey616ae350} {
		b, err := os.ReadFile(filepath.Join("testdata", "keys", n))
		if err != nil {
			t.Fatal(err)
		}
		keys[n] = b
	}
	k, err := NewKeyring(keys, []string{alpineFP6165ee59, alpineFP616ae350})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// countNames counts the distinct P: names of an APKINDEX.tar.gz, read
// without apko's parser, so the import's count is checked independently.
func countNames(t *testing.T, data []byte) int {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data)) // multistream: signature, then index
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "APKINDEX" {
			continue
		}
		sc := bufio.NewScanner(tr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "P:") {
				names[l[2:]] = true
			}
		}
	}
	return len(names)
}

func TestImportRealAlpineIndexes(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	k := alpineKeyring(t)
	for _, tt := range []struct {
		dir, signer, commit string
	}{
		{"alpine-316", alpineKey6165ee59, "4d933a1fa3"},
		{"alpine-317", alpineKey616ae350, "54a39ace82a"},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(td, tt.dir, "APKINDEX.tar.gz"))
			if err != nil {
				t.Fatal(err)
			}
			want := countNames(t, data)
			if want < 4000 {
				t.Fatalf("the real index has only %d names: wrong test data?", want)
			}
			v, err := VerifyIndex(data, k)
			if err != nil {
				t.Fatal(err)
			}
			if v.Signer != tt.signer || v.Algorithm != "RSA" {
				t.Errorf("verified by %s/%s, want %s/RSA (SHA-1)", v.Signer, v.Algorithm, tt.signer)
			}
			u, _, err := Import(ImportOptions{Distro: "alpine-x", Keys: k}, []Index{{Source: "main", URL: "https://dl-cdn.alpinelinux.org/alpine/v3.x/main", Location: tt.dir, Data: data}})
			if err != nil {
				t.Fatal(err)
			}
			if len(u.Packages) != want {
				t.Errorf("imported %d packages, the index has %d", len(u.Packages), want)
			}
			s := u.Sources[0]
			if s.Commit != tt.commit || s.Signer != tt.signer || s.Indexes[u.Archs[0]] != v.Digest || len(u.Archs) != 1 || len(s.Date) != 10 {
				t.Errorf("source = %+v", s)
			}
			// The file round-trips and stays well under the size limit.
			var buf bytes.Buffer
			if err := universe.Write(&buf, u); err != nil {
				t.Fatal(err)
			}
			if buf.Len() > universe.MaxFileSize {
				t.Errorf("universe file is %d bytes", buf.Len())
			}
			back, err := universe.Read(&buf, "written")
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Packages) != want {
				t.Errorf("read back %d packages", len(back.Packages))
			}
			bb := back.Lookup("busybox")
			if bb == nil || !strings.HasPrefix(bb.Newest(), "1.3") || len(bb.Provides) == 0 {
				t.Errorf("busybox = %+v", bb)
			}
			if ps := back.Providers("cmd:sh"); len(ps) == 0 {
				t.Error("nothing provides cmd:sh")
			}
		})
	}
}

func TestVerifyIndexRefusesTampering(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	data, err := os.ReadFile(filepath.Join(td, "alpine-316", "APKINDEX.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	k := alpineKeyring(t)
	sigEnd := signatureEnd(t, data)

	// Replace the signed segment by a re-compressed index with one version changed.
	forged := func() []byte {
		zr, _ := gzip.NewReader(bytes.NewReader(data[sigEnd:]))
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		raw = bytes.Replace(raw, []byte("\nP:busybox\nV:"), []byte("\nP:busybox\nV:9"), 1)
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(raw)
		zw.Close()
		return append(append([]byte(nil), data[:sigEnd]...), b.Bytes()...)
	}()
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)-100] ^= 1
	unsigned := append([]byte(nil), data[sigEnd:]...)

	otherKey, err := os.ReadFile(filepath.Join(td, "alpine-316", "alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := NewKeyring(map[string][]byte{"alpine-devel@lists.alpinelinux.org-4a6a0840.rsa.pub": otherKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A key file swapped under the signer's name: verification must fail.
	swapped, err := NewKeyring(map[string][]byte{alpineKey6165ee59: otherKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		k    *Keyring
		want string
	}{
		{"forged content", forged, k, "does not verify"},
		{"flipped byte", flipped, k, ""},
		{"signature stripped", unsigned, k, "not signed"},
		{"untrusted signer", data, wrong, "none of them trusted"},
		{"swapped key file", data, swapped, "does not verify"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyIndex(tt.data, tt.k)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyIndex error = %v, want one containing %q", err, tt.want)
			}
			_, _, err = Import(ImportOptions{Distro: "alpine-x", Keys: tt.k}, []Index{{Location: "x", Data: tt.data}})
			if err == nil {
				t.Fatal("Import accepted a tampered index")
			}
		})
	}
	// A key whose fingerprint is not pinned is refused up front.
	if _, err := NewKeyring(map[string][]byte{alpineKey6165ee59: otherKey}, []string{alpineFP6165ee59}); err == nil || !strings.Contains(err.Error(), "not pinned") {
		t.Errorf("unpinned key: %v", err)
	}
}

// signatureEnd is the offset where the signature's gzip stream ends.
func signatureEnd(t *testing.T, data []byte) int {
	br := bytes.NewReader(data)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatal(err)
	}
	return len(data) - br.Len()
}

func TestImportRSA256Indexes(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	for _, dir := range []string{"rsa256-signed", "signing"} {
		t.Run(dir, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(td, dir, "APKINDEX.tar.gz"))
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string][]byte{}
			matches, _ := filepath.Glob(filepath.Join(td, dir, "*.rsa.pub"))
			more, _ := filepath.Glob(filepath.Join(td, dir, "keys", "*.rsa.pub"))
			for _, m := range append(matches, more...) {
				b, err := os.ReadFile(m)
				if err != nil {
					t.Fatal(err)
				}
				keys[filepath.Base(m)] = b
			}
			k, err := NewKeyring(keys, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, err := VerifyIndex(data, k)
			if err != nil {
				t.Fatal(err)
			}
			if v.Algorithm != "RSA256" {
				t.Errorf("algorithm %s, want RSA256", v.Algorithm)
			}
			u, _, err := Import(ImportOptions{Distro: "wolfi", Keys: k}, []Index{{Source: "os", Location: dir, Data: data}})
			if err != nil {
				t.Fatal(err)
			}
			if want := countNames(t, data); len(u.Packages) != want {
				t.Errorf("imported %d packages, want %d", len(u.Packages), want)
			}
		})
	}
}

func TestImportKeepsAnnotationsAndMarksRemoved(t *testing.T) {
	td := testenv.ApkoTestdata(t)
	data, err := os.ReadFile(filepath.Join(td, "alpine-316", "APKINDEX.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	prev, err := universe.Read(strings.NewReader(`@universe 1
@distro alpine-x
@source main
busybox 1.0-r0 f=/etc/busybox-paths.d/busybox s=post-install,trigger
gone-package 1.0-r0
`), "prev")
	if err != nil {
		t.Fatal(err)
	}
	u, ch, err := Import(ImportOptions{Distro: "alpine-x", Keys: alpineKeyring(t), Previous: prev, Date: "2026-12-01"},
		[]Index{{Source: "main", Location: "alpine-316", Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	bb := u.Lookup("busybox")
	if bb == nil || len(bb.Scripts) != 2 || len(bb.Files) != 1 {
		t.Errorf("busybox lost its annotations: %+v", bb)
	}
	gone := u.Lookup("gone-package")
	if gone == nil || gone.Removed != "2026-12-01" {
		t.Errorf("gone-package = %+v, want it kept as removed", gone)
	}
	if len(ch.Removed) != 1 || len(ch.Updated) != 1 || len(ch.Added) != len(u.Packages)-2 {
		t.Errorf("changes: %d added, %v removed, %v updated", len(ch.Added), ch.Removed, ch.Updated)
	}
}
