//go:build !(isal && cgo)

package gunzip

import (
	"io"

	kgzip "github.com/klauspost/compress/gzip"
)

const implementation = "klauspost"

// NewReader returns a reader of the decompressed content of the gzip
// stream r. A stream that is empty gives io.EOF, one that does not start
// with a gzip header ErrHeader. Close releases what the reader holds; it
// does not close r.
func NewReader(r io.Reader) (io.ReadCloser, error) {
	zr, err := kgzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	return zr, nil
}
