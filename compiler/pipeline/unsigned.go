package pipeline

// This file keeps a signed layout from being un-signed by accident. The
// key's identity feeds the input digest, so an unsigned build finds none of
// a signed build's images cached: it rebuilds every spec it selects (the
// same image bytes, often) and Store.Put replaces the spec's index.json
// entries, signatures and attestations with its unsigned ones, which hic gc
// then deletes. BuildCatalog therefore refuses an unsigned build into a
// layout that holds any signed image unless the caller says so
// (CatalogOptions.ReplaceSigned), and then says what it replaced.

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/store"
)

// signedArtifactTypes are the referrers only a signed build stores: the
// signed attestations and the image signatures.
var signedArtifactTypes = []string{attest.ArtifactType, attest.SignatureArtifactType}

// signedSpecs lists, sorted, the specs whose image in st is signed (has a
// signature or attestation referrer in index.json).
func signedSpecs(st *store.Store) []string {
	return st.SpecsWithArtifacts(signedArtifactTypes...)
}

// refuseUnsigning is BuildCatalog's refusal of an unsigned build into a
// layout whose images of the specs signed are signed; out is the output
// directory (its report.json names the key, when it is there).
func refuseUnsigning(out string, signed []string) error {
	layout := filepath.Join(out, "oci")
	key := ""
	if r, err := report.ReadReport(filepath.Join(out, "report.json")); err == nil && r.KeyID != "" {
		key = " " + r.KeyID
	}
	with := "the key that signed them"
	if key != "" {
		with = "key" + key + ", which signed them"
	}
	return &InputError{fmt.Errorf("%s holds the signed images of %s (%s): an --unsigned build would replace them with unsigned ones and drop their signatures and attestations (hic gc then deletes them), so nothing was built; "+
		"build with --key (%s), into another --out, or pass --replace-signed to replace them",
		layout, count(len(signed), "spec"), names(signed), with)}
}

// noteUnsigned says, after an unsigned build with ReplaceSigned, which
// specs' signed images it replaced (before: the specs signed when it
// started) and which keep theirs.
func noteUnsigned(w io.Writer, before []string, st *store.Store) {
	after := signedSpecs(st)
	var replaced []string
	for _, s := range before {
		if !slices.Contains(after, s) {
			replaced = append(replaced, s)
		}
	}
	if len(replaced) == 1 {
		fmt.Fprintf(w, "warning: replaced the signed image of %s with an unsigned build (--replace-signed): its signatures and attestations are gone from the layout\n", replaced[0])
	} else if len(replaced) > 1 {
		fmt.Fprintf(w, "warning: replaced the signed images of %s with unsigned builds (--replace-signed): %s; their signatures and attestations are gone from the layout\n", count(len(replaced), "spec"), names(replaced))
	}
	switch {
	case len(after) == 1:
		fmt.Fprintf(w, "warning: 1 spec keeps its signed image (%s): the layout is signed only in part\n", after[0])
	case len(after) > 1:
		fmt.Fprintf(w, "warning: %s keep their signed images (%s): the layout is signed only in part\n", count(len(after), "spec"), names(after))
	}
}

// names lists refs, the first few only when there are many.
func names(refs []string) string {
	const most = 5
	if len(refs) <= most {
		return strings.Join(refs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(refs[:most], ", "), len(refs)-most)
}
