package build

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

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
}

var _ http.RoundTripper = (*verifier)(nil)

// newVerifier returns a verifier for the locked packages of archs that come
// from repositories without a mirror, or nil if there are none.
func newVerifier(next http.RoundTripper, ref, dir string, src *resolve.Sources, lock *resolve.Lock, archs []types.Architecture) *verifier {
	pkgs := map[string]resolve.Package{}
	for _, a := range archs {
		for _, p := range lock.Packages(a) {
			if _, ok := src.MirrorDir(p.Repository); !ok {
				pkgs[p.Repository+"/"+a.ToAPK()+"/"+p.Name+"-"+p.Version+".apk"] = p
			}
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &verifier{next: next, ref: ref, dir: dir, pkgs: pkgs}
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
	if _, err := verifyPackage(f.Name(), p, p.Size, ""); err != nil {
		f.Close()
		return v.reject(req, p, err), nil
	}
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

// err returns the first verification failure, if any.
func (v *verifier) err() error {
	if v == nil {
		return nil
	}
	return v.refused.Err()
}
