package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/hic-build/hic/compiler/store"
)

// TestGC stores a spec, replaces it with another image, and checks that
// hic gc removes the replaced image's blobs and leaves a valid layout.
func TestGC(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"sha256:one", "sha256:two"} {
		idx, err := random.Index(512, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put(context.Background(), store.Entry{SpecRef: "app:1-wolfi-runtime", Refs: []string{"app:1"}, InputDigest: in}, idx); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"gc", "--layout", dir}, nil, &stdout, &stderr, os.Getenv); code != 0 {
		t.Fatalf("hic gc exited %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "removed ") || strings.HasPrefix(stdout.String(), "removed 0 ") {
		t.Errorf("hic gc removed nothing after a replacement: %q", stdout.String())
	}
	if err := store.Validate(dir); err != nil {
		t.Errorf("layout invalid after gc: %v", err)
	}
	if code := run(context.Background(), []string{"gc", "--layout", filepath.Join(dir, "missing")}, nil, &stdout, &stderr, os.Getenv); code != exitUsage {
		t.Errorf("gc of a missing layout exited %d, want %d", code, exitUsage)
	}
}
