package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/testenv"
)

// TestPublishKeepsWritersOut holds a publish in flight (its registry does not
// answer until told to) and checks that, meanwhile, hic gc and a build's
// store (store.Open) are refused, naming the publish as a reader, and a
// second publish runs beside it; and that once the publish has finished,
// whole, gc runs.
func TestPublishKeepsWritersOut(t *testing.T) {
	oci := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(oci, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{publish.AnnotationRefName: "hic/demo:1"})); err != nil {
		t.Fatal(err)
	}

	// A registry whose first request waits for release: the publish then
	// holds the layout's lock, having read index.json.
	target, err := url.Parse("http://" + testenv.StartRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() {
			close(started)
			<-release
		})
		proxy.ServeHTTP(w, r)
	}))
	defer reg.Close()
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock() // before reg.Close, which waits for the held request
	host := strings.TrimPrefix(reg.URL, "http://")

	done := make(chan cliRun, 1)
	go func() { done <- hicCLI(t, nil, "publish", "--layout", oci, "--attempts", "1", host+"/first") }()
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("publish ended before reaching the registry: %s", r)
	}
	pid := "(pid " + strconv.Itoa(os.Getpid()) + "), which is reading it"
	if r := hicCLI(t, nil, "gc", "--layout", oci); r.Code != exitUsage || !strings.Contains(r.Stderr, "in use by another hic process "+pid) {
		t.Errorf("gc beside a publish: %s\nwant exit %d naming the publish", r, exitUsage)
	}
	st, err := store.Open(context.Background(), oci)
	if err == nil {
		st.Close()
	}
	var inUse *store.InUseError
	if !errors.As(err, &inUse) || !inUse.Readers {
		t.Errorf("a build's store.Open beside a publish = %v, want an *InUseError of readers", err)
	}
	// Readers share the lock: a second publish (to the registry directly)
	// runs beside the first.
	hicCLI(t, nil, "publish", "--layout", oci, target.Host+"/second").must(t, 0)
	unblock()
	if r := <-done; r.Code != 0 || !strings.Contains(r.Stdout, "published 1 image to "+host+"/first") {
		t.Errorf("the publish held in flight: %s\nwant it to push its image", r)
	}
	hicCLI(t, nil, "gc", "--layout", oci).must(t, 0)
}
