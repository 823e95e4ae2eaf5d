package apkrepo

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

func TestContentIndependentOfReadSizes(t *testing.T) {
	const n = 10_000
	want, err := io.ReadAll(content(42, n))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != n {
		t.Fatalf("got %d bytes, want %d", len(want), n)
	}
	for _, chunk := range []int{1, 7, 1023, 1024, 4097} {
		r := content(42, n)
		var got []byte
		buf := make([]byte, chunk)
		for {
			k, err := r.Read(buf)
			got = append(got, buf[:k]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("chunk %d: different bytes", chunk)
		}
	}
	other, _ := io.ReadAll(content(43, n))
	if bytes.Equal(other, want) {
		t.Error("seeds 42 and 43 give the same content")
	}
}

func TestContentCompressesLikeABinary(t *testing.T) {
	raw, _ := io.ReadAll(content(7, 1<<20))
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	ratio := float64(z.Len()) / float64(len(raw))
	if ratio < 0.4 || ratio > 0.8 {
		t.Errorf("gzip ratio %.2f, want between 0.4 and 0.8", ratio)
	}
}
