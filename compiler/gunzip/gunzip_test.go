package gunzip

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// realStreams are gzip streams this project did not write: apko's test
// packages (each three concatenated members: signature, control, data)
// and its APKINDEX files, one of them larger than the inflater's buffers.
func realStreams(t testing.TB) map[string][]byte {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(gomod)), "chainguard.dev/apko@v0.30.34/pkg/apk/apk/testdata")
	var names []string
	for _, pattern := range []string{"*.apk", "*/*.apk", "*.tar.gz", "*/*.tar.gz"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m...)
	}
	if len(names) < 8 {
		t.Fatalf("apko's test data in %s: %d gzip files, want at least 8", dir, len(names))
	}
	streams := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		streams[strings.TrimPrefix(n, dir+"/")] = b
	}
	return streams
}

// madeStreams are streams of several MiB, past every buffer, compressed
// by compress/gzip at the levels that give stored, Huffman-only, fast and
// best blocks, from content that is partly random and partly repetitive.
func madeStreams(t testing.TB) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var content bytes.Buffer
	for content.Len() < 5<<20 {
		chunk := make([]byte, 1+rng.IntN(70000))
		if rng.IntN(2) == 0 {
			for i := range chunk {
				chunk[i] = byte(rng.Uint32())
			}
		} else {
			word := []byte("usr/lib/python3.14/site-packages/")
			for i := range chunk {
				chunk[i] = word[(i+rng.IntN(3))%len(word)]
			}
		}
		content.Write(chunk)
	}
	streams := map[string][]byte{}
	for name, level := range map[string]int{"stored": gzip.NoCompression, "huffman": gzip.HuffmanOnly, "fast": gzip.BestSpeed, "best": gzip.BestCompression} {
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, level)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(content.Bytes())
		zw.Close()
		streams[name] = b.Bytes()
	}
	streams["empty member"] = gzipOf(t, nil)
	streams["two members"] = append(gzipOf(t, []byte("first\n")), streams["fast"]...)
	return streams
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// reference is what compress/gzip makes of the stream.
func reference(stream []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func inflate(stream []byte, wrap func(io.Reader) io.Reader) ([]byte, error) {
	zr, err := NewReader(wrap(bytes.NewReader(stream)))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

func TestMatchesCompressGzip(t *testing.T) {
	t.Logf("inflater: %s", Implementation)
	streams := realStreams(t)
	for name, s := range madeStreams(t) {
		streams[name] = s
	}
	wraps := map[string]func(io.Reader) io.Reader{
		"whole":      func(r io.Reader) io.Reader { return r },
		"one byte":   iotest.OneByteReader,
		"half":       iotest.HalfReader,
		"data + EOF": iotest.DataErrReader,
	}
	for name, s := range streams {
		want, err := reference(s)
		if err != nil {
			t.Fatalf("%s: compress/gzip: %v", name, err)
		}
		for wname, wrap := range wraps {
			if wname == "one byte" && len(s) > 1<<20 {
				continue
			}
			got, err := inflate(s, wrap)
			if err != nil {
				t.Errorf("%s, read %s: %v", name, wname, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, read %s: %d bytes differ from compress/gzip's %d", name, wname, len(got), len(want))
			}
		}
		// The reader keeps to io.Reader's contract with small and odd reads.
		zr, err := NewReader(bytes.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if err := iotest.TestReader(zr, want); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		zr.Close()
	}
}

func TestRejectsWhatCompressGzipRejects(t *testing.T) {
	good := madeStreams(t)["fast"]
	n := len(good)
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x40
		return b
	}
	cases := map[string]struct {
		stream []byte
		want   error // nil: any error
	}{
		"empty":            {nil, io.EOF},
		"not gzip":         {[]byte("this is not gzip at all, it is plain text"), ErrHeader},
		"deflate method":   {append([]byte{0x1f, 0x8b, 7}, good[3:]...), ErrHeader},
		"crc":              {flip(n - 6), ErrChecksum},
		"size":             {flip(n - 2), ErrChecksum},
		"body":             {flip(n / 2), nil},
		"truncated body":   {good[:n/2], io.ErrUnexpectedEOF},
		"truncated header": {good[:5], nil},
		"no trailer":       {good[:n-8], io.ErrUnexpectedEOF},
		"half a trailer":   {good[:n-3], io.ErrUnexpectedEOF},
		"garbage after":    {append(bytes.Clone(good), "trailing garbage"...), ErrHeader},
	}
	for name, c := range cases {
		if _, err := reference(c.stream); err == nil {
			t.Fatalf("%s: compress/gzip takes it: not a rejection case", name)
		}
		got, err := inflate(c.stream, func(r io.Reader) io.Reader { return r })
		if err == nil {
			t.Errorf("%s: read %d bytes and no error", name, len(got))
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// TestFlippedBytes corrupts a real package byte by byte: whatever
// compress/gzip rejects is rejected, and whatever it takes reads the same.
func TestFlippedBytes(t *testing.T) {
	s := realStreams(t)["hello-wolfi-2.12.1-r0.apk"]
	rng := rand.New(rand.NewPCG(3, 4))
	for range 400 {
		b := bytes.Clone(s)
		at := rng.IntN(len(b))
		b[at] ^= byte(1 + rng.IntN(255))
		checkSame(t, b)
	}
}

func FuzzMatchesCompressGzip(f *testing.F) {
	for _, s := range realStreams(f) {
		if len(s) < 1<<17 {
			f.Add(s)
		}
	}
	f.Add(gzipOf(f, []byte("hello")))
	f.Fuzz(func(t *testing.T, b []byte) { checkSame(t, b) })
}

func checkSame(t *testing.T, b []byte) {
	t.Helper()
	want, werr := reference(b)
	got, err := inflate(b, func(r io.Reader) io.Reader { return r })
	switch {
	case werr != nil && err == nil:
		t.Errorf("compress/gzip rejects a stream (%v) this reader takes (%d bytes)", werr, len(got))
	case werr == nil && err != nil:
		t.Errorf("this reader rejects a stream (%v) compress/gzip takes", err)
	case werr == nil && !bytes.Equal(got, want):
		t.Errorf("read %d bytes that differ from compress/gzip's %d", len(got), len(want))
	}
}

func TestReadAfterClose(t *testing.T) {
	zr, err := NewReader(bytes.NewReader(gzipOf(t, []byte("content"))))
	if err != nil {
		t.Fatal(err)
	}
	zr.Close()
	if err := zr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
