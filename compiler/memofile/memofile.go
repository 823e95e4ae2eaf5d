// Package memofile reads and writes hic's memo files: small files that
// remember the results of checks or computations between processes, each
// authenticated by an HMAC-SHA256 under a key kept outside the directory
// the file lives in (store.MemoKey). Whoever can write the file but not
// the key cannot make it say anything: a file that is missing, of another
// format or fails the check reads as absent, which only costs its reader
// the work the memo would have saved.
//
// A memo file is its format line, the HMAC of the format line and the
// body, then the body.
package memofile

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"os"

	"github.com/hic-build/hic/compiler/fsutil"
)

// Read returns the body of the memo file at path if it has format (a line
// ending in "\n") and is authentic under key; ok is false otherwise.
func Read(path, format string, key []byte) (body []byte, ok bool) {
	if key == nil {
		return nil, false
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte(format)) || len(b) < len(format)+sha256.Size {
		return nil, false
	}
	b = b[len(format):]
	sum, body := b[:sha256.Size], b[sha256.Size:]
	if !hmac.Equal(sum, MAC(key, format, body)) {
		return nil, false
	}
	return body, true
}

// Write writes body as the memo file at path, atomically.
func Write(path, format string, key, body []byte) error {
	out := append([]byte(format), MAC(key, format, body)...)
	out = append(out, body...)
	return fsutil.WriteFileAtomic(path, out, 0o644)
}

// MAC is the HMAC-SHA256 under key of format and body.
func MAC(key []byte, format string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(format))
	h.Write(body)
	return h.Sum(nil)
}
