package build

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"chainguard.dev/apko/pkg/build/types"

	"github.com/hic-build/hic/compiler/resolve"
)

// verifier is the HTTP transport apko fetches packages of repositories
// without a mirror through. It checks each downloaded locked package like a
// mirrored one (control checksum against the lock, data hash, size) before
// apko sees a byte of it, and turns a mismatch into a 422 response, which
// apko reports without retrying.
type verifier struct {
	next http.RoundTripper
	ref  string
	dir  string                     // where downloads are kept for checking
	pkgs map[string]resolve.Package // package URL -> locked package

	refused resolve.Refusals // the verification failures

	mu      sync.Mutex
	fetched map[string]string // package URL -> digest of the file fetched and verified
}

var _ http.RoundTripper = (*verifier)(nil)

// newVerifier returns a verifier for the locked packages of archs that come
// from repositories without a mirror, or nil if there are none.
func newVerifier(next http.RoundTripper, ref, dir string, src *resolve.Sources, lock *resolve.Lock, archs []types.Architecture) *verifier {
	pkgs := map[string]resolve.Package{}
	for _, a := range archs {
		for _, p := range lock.Packages(a) {
			if _, ok := src.MirrorDir(p.Repository); !ok {
				pkgs[packageFileURL(p, a)] = p
			}
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &verifier{next: next, ref: ref, dir: dir, pkgs: pkgs, fetched: map[string]string{}}
}

// packageFileURL is the URL apko fetches package p of arch from: the arch
// directory is the build's, also for a noarch package.
func packageFileURL(p resolve.Package, arch types.Architecture) string {
	return p.Repository + "/" + arch.ToAPK() + "/" + p.Name + "-" + p.Version + ".apk"
}

func (v *verifier) RoundTrip(req *http.Request) (*http.Response, error) {
	p, ok := v.pkgs[req.URL.String()]
	if !ok || req.Method != http.MethodGet {
		return v.next.RoundTrip(req)
	}
	if req.Header.Get("Range") != "" {
		return v.reject(req, p, errors.New("a partial re-fetch cannot be verified")), nil
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	f, err := os.CreateTemp(v.dir, "fetch-*.apk")
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	_, err = io.Copy(f, resp.Body)
	resp.Body.Close()
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err // a network error: apko's client may retry
	}
	_, digest, err := verifyPackage(f.Name(), p, p.Size, "")
	if err != nil {
		f.Close()
		return v.reject(req, p, err), nil
	}
	v.mu.Lock()
	v.fetched[req.URL.String()] = digest
	v.mu.Unlock()
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	resp.Body, resp.ContentLength = f, st.Size()
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (v *verifier) reject(req *http.Request, p resolve.Package, err error) *http.Response {
	e := fmt.Errorf("%s: verify %s from %s: %s: %w", v.ref, p, p.Repository, req.URL, err)
	return v.refused.Refuse(req, e)
}

// digest returns the digest ("sha256:<hex>") of the file fetched from url
// in this build, or "" if apko did not fetch it (its package cache had it).
func (v *verifier) digest(url string) string {
	if v == nil {
		return ""
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.fetched[url]
}

// err returns the first verification failure, if any.
func (v *verifier) err() error {
	if v == nil {
		return nil
	}
	return v.refused.Err()
}
