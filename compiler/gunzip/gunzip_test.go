package gunzip

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/crc32"
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

// member is one gzip member of content with the header options RFC 1952
// allows, which compress/gzip's writer cannot all write: an extra field,
// a name, a comment, and the header's own CRC-16.
func member(t testing.TB, extra, name, comment []byte, hcrc bool, content []byte) []byte {
	t.Helper()
	hdr := []byte{0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 0, 255}
	if extra != nil {
		hdr[3] |= 1 << 2
		hdr = binary.LittleEndian.AppendUint16(hdr, uint16(len(extra)))
		hdr = append(hdr, extra...)
	}
	if name != nil {
		hdr[3] |= 1 << 3
		hdr = append(append(hdr, name...), 0)
	}
	if comment != nil {
		hdr[3] |= 1 << 4
		hdr = append(append(hdr, comment...), 0)
	}
	if hcrc {
		hdr[3] |= 1 << 1
		hdr = binary.LittleEndian.AppendUint16(hdr, uint16(crc32.ChecksumIEEE(hdr)))
	}
	var body bytes.Buffer
	fw, err := flate.NewWriter(&body, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	fw.Close()
	out := append(hdr, body.Bytes()...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(content))
	return binary.LittleEndian.AppendUint32(out, uint32(len(content)))
}

// TestHeaderOptions reads members with every header option, alone and
// concatenated, whole and a byte at a time, so that a header is split
// across reads: the same content as compress/gzip.
func TestHeaderOptions(t *testing.T) {
	content := bytes.Repeat([]byte("etc/ssl/certs/ca-certificates.crt\n"), 5000)
	name, comment := []byte("layer.tar"), bytes.Repeat([]byte("c"), 511)
	streams := map[string][]byte{
		"extra":              member(t, []byte("AP\x04\x00abcd"), nil, nil, false, content),
		"largest extra":      member(t, bytes.Repeat([]byte{7}, 65535), nil, nil, false, content),
		"name and comment":   member(t, nil, name, comment, false, content),
		"all and header CRC": member(t, []byte("x"), name, []byte("comment"), true, content),
		"header CRC only":    member(t, nil, nil, nil, true, content),
	}
	streams["three members"] = append(append(bytes.Clone(streams["all and header CRC"]), streams["largest extra"]...), streams["name and comment"]...)
	for name, s := range streams {
		want, err := reference(s)
		if err != nil {
			t.Fatalf("%s: compress/gzip: %v", name, err)
		}
		for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
			got, err := inflate(s, wrap)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v; compress/gzip reads %d bytes", name, len(got), err, len(want))
			}
		}
	}
	for name, s := range map[string][]byte{
		"name of 512 bytes":    member(t, nil, bytes.Repeat([]byte("n"), 512), nil, false, content),
		"comment of 600 bytes": member(t, nil, nil, bytes.Repeat([]byte("c"), 600), false, content),
		"header CRC wrong": func() []byte {
			b := member(t, nil, name, nil, true, content)
			b[4] ^= 1 // the mtime, which the header CRC covers
			return b
		}(),
	} {
		if _, err := reference(s); !errors.Is(err, ErrHeader) {
			t.Fatalf("%s: compress/gzip gives %v, not ErrHeader", name, err)
		}
		for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader} {
			if _, err := inflate(s, wrap); !errors.Is(err, ErrHeader) {
				t.Errorf("%s: %v, want ErrHeader", name, err)
			}
		}
	}
}

// TestDataWithError reads a source that returns its last data together
// with an error: the data is inflated, then the error returned.
func TestDataWithError(t *testing.T) {
	content := bytes.Repeat([]byte("usr/bin/python3\n"), 1000)
	s := gzipOf(t, content)
	errSource := errors.New("the source failed")
	for name, cut := range map[string]int{"whole stream": len(s), "half the stream": len(s) / 2} {
		got, err := inflate(s[:cut], func(r io.Reader) io.Reader { return &dataWithError{r: r, err: errSource} })
		if !errors.Is(err, errSource) {
			t.Errorf("%s: %v, want the source's error", name, err)
		}
		if cut == len(s) && !bytes.Equal(got, content) {
			t.Errorf("%s: %d bytes inflated before the error, want %d", name, len(got), len(content))
		}
	}
}

// dataWithError returns all of r in one read, with err.
type dataWithError struct {
	r   io.Reader
	err error
}

func (d *dataWithError) Read(p []byte) (int, error) {
	n, _ := io.ReadFull(d.r, p)
	return n, d.err
}
