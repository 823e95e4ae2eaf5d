package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/testenv"
)

func runPublish(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"publish"}, args...), strings.NewReader(""), &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

// writeTestLayout writes one random image index tagged hic/demo:1 and :latest.
func writeTestLayout(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"1", "latest"} {
		if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{publish.AnnotationRefName: "hic/demo:" + tag})); err != nil {
			t.Fatal(err)
		}
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return dir, d.String()
}

func TestPublishCmd(t *testing.T) {
	reg := testenv.StartRegistry(t)
	dir, digest := writeTestLayout(t)

	code, stdout, stderr := runPublish(t, "--layout", dir, reg+"/cat")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	wantPrefix := fmt.Sprintf("pushed %s/cat/hic/demo:1@%s tags 1,latest referrers 0 signatures 0 attestations 0 (", reg, digest)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], wantPrefix) || lines[1] != "published 1 image to "+reg+"/cat" {
		t.Errorf("stdout:\n%s\nwant a line starting %q and a summary", stdout, wantPrefix)
	}
	ref, err := name.ParseReference(reg+"/cat/hic/demo:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest.String() != digest {
		t.Errorf("hic/demo:latest is %s, want %s", got.Digest, digest)
	}
}

func TestPublishCmdErrors(t *testing.T) {
	dir, _ := writeTestLayout(t)
	down := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no destination", []string{"--layout", dir}, exitUsage, "requires at least 1 arg"},
		{"bad destination", []string{"--layout", dir, "Bad Registry/x"}, exitUsage, "destination"},
		{"missing layout", []string{"--layout", dir + "/nope", down}, exitUsage, "--layout"},
		{"unknown ref", []string{"--layout", dir, down, "hic/other"}, exitUsage, `no image matches "hic/other"`},
		{"registry down", []string{"--layout", dir, "--attempts", "3", down + "/cat"}, exitFindings,
			"hic: publish hic/demo:1 to " + down + "/cat: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, _, stderr := runPublish(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
