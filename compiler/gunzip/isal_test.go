//go:build isal && cgo

package gunzip

import (
	"bytes"
	"testing"
)

// TestInflateLeavesNoUpperVectorState checks, on a CPU that can tell, that
// an inflate step returns with the upper vector state clear: ISA-L's
// AVX-512 code can leave it dirty, and Go's SSE-encoded SHA-NI hashing
// after it then runs several times slower (see hic_gunzip_step).
func TestInflateLeavesNoUpperVectorState(t *testing.T) {
	for name, s := range madeStreams(t) {
		zr, err := NewReader(bytes.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		r := zr.(*isalReader)
		r.fill()
		dirty, known := upperVectorsDirty(r)
		r.Close()
		if !known {
			t.Skip("this CPU does not report XINUSE (XGETBV with ECX=1)")
		}
		if dirty {
			t.Errorf("%s: an inflate step left the upper vector state in use", name)
		}
	}
}
