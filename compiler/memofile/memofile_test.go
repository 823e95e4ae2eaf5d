package memofile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestReadWhatWriteWrote(t *testing.T) {
	p := filepath.Join(t.TempDir(), "memo")
	key := bytes.Repeat([]byte{1}, 32)
	const format = "hic test memo v1\n"
	if err := Write(p, format, key, []byte("body")); err != nil {
		t.Fatal(err)
	}
	if b, ok := Read(p, format, key); !ok || string(b) != "body" {
		t.Fatalf("Read = %q, %v; want the body written", b, ok)
	}
	for name, read := range map[string]func() bool{
		"another key":    func() bool { _, ok := Read(p, format, bytes.Repeat([]byte{2}, 32)); return ok },
		"no key":         func() bool { _, ok := Read(p, format, nil); return ok },
		"another format": func() bool { _, ok := Read(p, "hic test memo v2\n", key); return ok },
		"missing file":   func() bool { _, ok := Read(p+".gone", format, key); return ok },
	} {
		if read() {
			t.Errorf("%s: read as authentic", name)
		}
	}
	// One byte of the body changed by someone without the key.
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := Read(p, format, key); ok {
		t.Error("an edited body read as authentic")
	}
}
