package pipeline

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/store"
)

// putSigned stores a random image for spec with a signature and an
// attestation referrer whose entries name key (none if "").
func putSigned(t *testing.T, st *store.Store, spec, key string) {
	t.Helper()
	idx, err := random.Index(64, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := store.DescriptorOf(idx)
	if err != nil {
		t.Fatal(err)
	}
	var refs []store.Referrer
	for _, at := range []string{attest.SignatureArtifactType, attest.ArtifactType} {
		a := store.Artifact{ArtifactType: at, Subject: d, MediaType: "application/json", Data: []byte(`{"` + spec + `":"` + at + `"}`)}
		if key != "" {
			a.IndexAnnotations = map[string]string{attest.AnnotationKeyID: key}
		}
		r, err := store.NewArtifact(a)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if _, err := st.Put(context.Background(), store.Entry{SpecRef: spec, Refs: []string{spec}}, idx, refs...); err != nil {
		t.Fatal(err)
	}
}

// The keys of a layout's signed images come from index.json; an entry
// that names none (written before hic named keys) counts as the key of
// report.json, or as a key the layout does not name, which a signed build
// is refused by as by another key.
func TestSignedKeys(t *testing.T) {
	out := t.TempDir()
	st := openStore(t, filepath.Join(out, "oci"))
	const k1, k2 = "1111111111111111aaaa", "2222222222222222bbbb"
	putSigned(t, st, "a:1", k1)
	putSigned(t, st, "b:1", "")
	if got, want := signedKeys(st, out), map[string][]string{"a:1": {k1}, "b:1": {unknownKey}}; !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("no report: signedKeys = %q, want %q", got, want)
	}
	l := signedLayout{out: out, keys: signedKeys(st, out)}
	err := l.refuse(k1, []string{"a:1"}, false)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "holds images signed by a key the layout does not name (1 spec: b:1), and this build signs with key 1111111111111111") {
		t.Errorf("refuse(k1) with b's key unknown: %v", err)
	}
	if err := l.refuse(k1, nil, true); err != nil {
		t.Errorf("refuse(k1, replace): %v", err)
	}

	if err := (&report.Report{Status: report.StatusCompleted, Signed: true, KeyID: k2}).WriteFile(filepath.Join(out, "report.json")); err != nil {
		t.Fatal(err)
	}
	if got, want := signedKeys(st, out), map[string][]string{"a:1": {k1}, "b:1": {k2}}; !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("report names k2: signedKeys = %q, want %q", got, want)
	}
	l = signedLayout{out: out, keys: signedKeys(st, out)}
	err = l.refuse(k2, []string{"b:1"}, false)
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "holds images signed by key 1111111111111111 (1 spec: a:1), and this build signs with key 2222222222222222: it selects none of them") {
		t.Errorf("refuse(k2): %v", err)
	}
	// Unsigned: the selected signed spec is named apart from the others.
	err = l.refuse("", []string{"b:1", "c:1"}, false)
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "is signed by keys 1111111111111111, 2222222222222222: this --unsigned build would replace the signed images of 1 spec it selects (b:1)") ||
		!strings.Contains(err.Error(), "the layout also holds the signed images of 1 other spec it does not select (a:1), which would stay signed") {
		t.Errorf("refuse(unsigned): %v", err)
	}
	putSigned(t, st, "b:1", k1)
	l = signedLayout{out: out, keys: signedKeys(st, out)}
	if err := l.refuse(k1, []string{"b:1"}, false); err != nil {
		t.Errorf("refuse(k1), every image k1's: %v", err)
	}
}
