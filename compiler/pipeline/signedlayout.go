package pipeline

// This file keeps a signed layout signed, and by one key, unless the
// caller asks otherwise. The key's identity feeds the input digest, so a
// build with another key, or unsigned, finds none of a signed build's
// images cached: it rebuilds every spec it selects (the same image bytes,
// often) and Store.Put replaces the spec's index.json entries, signatures
// and attestations with its own, which hic gc then deletes.
//
//   - An unsigned build would strip the signed images it selects of their
//     signatures and attestations, and leave a layout signed in part.
//   - A build signed with key B into a layout of key A's images would
//     leave images of two keys side by side, with report.json naming only
//     B: hic publish --key B would then re-sign A's images over A's
//     attestations, and they would verify with neither key.
//
// BuildCatalog therefore refuses both (an InputError, before anything is
// written) unless the caller says so (CatalogOptions.ReplaceSigned, hic
// build --replace-signed), and then says what it replaced and what it left.
// Which key signed each spec's image is read from index.json
// (attest.AnnotationKeyID on each signature and attestation entry), not
// from report.json, which names the last build's key only.

import (
	"errors"
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

// unknownKey stands for the key of a signed entry that names none, when
// report.json names none either.
const unknownKey = ""

// signedKeys maps each spec whose image in st is signed to the ids of the
// keys that signed its signatures and attestations, sorted. An entry
// written before hic named the key on it counts as signed by the key of
// out/report.json (the last build's, as hic did before), or by unknownKey
// when the report names none.
func signedKeys(st *store.Store, out string) map[string][]string {
	keys := st.ArtifactAnnotations(attest.AnnotationKeyID, signedArtifactTypes...)
	var fallback string
	for spec, ks := range keys {
		if !slices.Contains(ks, "") {
			continue
		}
		if fallback == "" {
			if r, err := report.ReadReport(filepath.Join(out, "report.json")); err == nil {
				fallback = r.KeyID
			}
		}
		ks = slices.DeleteFunc(slices.Clone(ks), func(k string) bool { return k == "" })
		if !slices.Contains(ks, fallback) {
			ks = append(ks, fallback)
			slices.Sort(ks)
		}
		keys[spec] = ks
	}
	return keys
}

// signedLayout is what a build found signed in its layout before it wrote
// anything: the keys of each signed spec (signedKeys).
type signedLayout struct {
	out  string
	keys map[string][]string
}

// specs lists, sorted, the signed specs that match: all with keep nil.
func (l signedLayout) specs(keep func(spec string, keys []string) bool) []string {
	var out []string
	for spec, ks := range l.keys {
		if keep == nil || keep(spec, ks) {
			out = append(out, spec)
		}
	}
	slices.Sort(out)
	return out
}

// otherKey reports whether keys holds a key other than id.
func otherKey(keys []string, id string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return k != id })
}

// refuse is BuildCatalog's refusal, before anything is written, of an
// unsigned build (keyID "") into a layout that holds signed images, and of
// a build signed with key keyID into one that holds images signed by
// another key; nil when there is nothing to refuse or replace says to go
// ahead. selected are the refs of the specs the build selects.
func (l signedLayout) refuse(keyID string, selected []string, replace bool) error {
	if replace {
		return nil
	}
	if keyID == "" {
		if len(l.keys) == 0 {
			return nil
		}
		return l.refuseUnsigning(selected)
	}
	other := l.specs(func(_ string, ks []string) bool { return otherKey(ks, keyID) })
	if len(other) == 0 {
		return nil
	}
	return l.refuseRekeying(keyID, other, selected)
}

// refuseUnsigning is the refusal of an unsigned build into a signed
// layout. It names the signed specs the build selects, whose images it
// would replace, apart from the other signed ones, which it would leave in
// a layout signed in part.
func (l signedLayout) refuseUnsigning(selected []string) error {
	signed := l.specs(nil)
	replaced, kept := split(signed, selected)
	var b strings.Builder
	fmt.Fprintf(&b, "%s is signed by %s: ", filepath.Join(l.out, "oci"), l.keysOf(signed))
	action := "to replace them"
	if len(replaced) > 0 {
		fmt.Fprintf(&b, "this --unsigned build would replace the signed images of %s it selects (%s) with unsigned ones, dropping their signatures and attestations (hic gc then deletes them)", count(len(replaced), "spec"), names(replaced))
		if len(kept) > 0 {
			fmt.Fprintf(&b, ", and the layout also holds the signed images of %s it does not select (%s), which would stay signed", count(len(kept), "other spec"), names(kept))
		}
	} else {
		fmt.Fprintf(&b, "it holds the signed images of %s (%s), which this --unsigned build does not select: they would stay signed beside its unsigned images, a layout signed in part", count(len(kept), "spec"), names(kept))
		action = "to build unsigned into it anyway (the signed images are kept)"
	}
	fmt.Fprintf(&b, "; nothing was built. Build with --key (%s, which signed them), into another --out, or pass --replace-signed %s", l.keysOf(signed), action)
	return &InputError{errors.New(b.String())}
}

// refuseRekeying is the refusal of a build signed with key keyID into a
// layout whose images of the specs other are signed by another key. It
// names the specs the build selects, whose images it would re-sign, apart
// from the others, which would keep the other key.
func (l signedLayout) refuseRekeying(keyID string, other, selected []string) error {
	replaced, kept := split(other, selected)
	var b strings.Builder
	fmt.Fprintf(&b, "%s holds images signed by %s, and this build signs with key %s: ", filepath.Join(l.out, "oci"), l.byKey(other), shortKey(keyID))
	if len(replaced) > 0 {
		fmt.Fprintf(&b, "it would re-sign those of %s it selects (%s)", count(len(replaced), "spec"), names(replaced))
		if len(kept) > 0 {
			fmt.Fprintf(&b, " and leave those of %s it does not select (%s) signed by %s", count(len(kept), "other spec"), names(kept), l.keysOf(kept))
		}
	} else {
		fmt.Fprintf(&b, "it selects none of them, and would leave them signed by %s beside its own images", l.keysOf(other))
	}
	fmt.Fprintf(&b, ", and no one --key publishes a layout signed by two keys; nothing was built. "+
		"Build with the key that signed them (%s), into another --out, or pass --replace-signed to replace them with images signed by key %s (for a key rotation: hic build --all --key NEW --replace-signed)",
		l.keysOf(other), shortKey(keyID))
	return &InputError{errors.New(b.String())}
}

// split divides specs into those in selected and the others.
func split(specs, selected []string) (in, out []string) {
	for _, s := range specs {
		if slices.Contains(selected, s) {
			in = append(in, s)
		} else {
			out = append(out, s)
		}
	}
	return in, out
}

// keysOf names the keys that signed specs: "key 0123…", "keys 0123…,
// 4567…", with "a key the layout does not name" for unknownKey.
func (l signedLayout) keysOf(specs []string) string {
	var ks []string
	for _, s := range specs {
		for _, k := range l.keys[s] {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	slices.Sort(ks)
	var named []string
	unknown := false
	for _, k := range ks {
		if k == unknownKey {
			unknown = true
			continue
		}
		named = append(named, shortKey(k))
	}
	var parts []string
	switch len(named) {
	case 0:
	case 1:
		parts = append(parts, "key "+named[0])
	default:
		parts = append(parts, "keys "+strings.Join(named, ", "))
	}
	if unknown {
		parts = append(parts, "a key the layout does not name (its entries predate hic naming it, and report.json names none)")
	}
	return strings.Join(parts, " and ")
}

// byKey names specs grouped by the key that signed them: "key 0123… (2
// specs: a, b)", joined with "; ".
func (l signedLayout) byKey(specs []string) string {
	groups := map[string][]string{}
	var order []string
	for _, s := range specs {
		for _, k := range l.keys[s] {
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], s)
		}
	}
	slices.Sort(order)
	var parts []string
	for _, k := range order {
		who := "key " + shortKey(k)
		if k == unknownKey {
			who = "a key the layout does not name"
		}
		parts = append(parts, fmt.Sprintf("%s (%s: %s)", who, count(len(groups[k]), "spec"), names(groups[k])))
	}
	return strings.Join(parts, "; ")
}

// note says, after a build with ReplaceSigned (keyID "" for an unsigned
// one), which specs' signed images it replaced and which keep theirs, as
// st now holds them.
func (l signedLayout) note(w io.Writer, keyID string, st *store.Store) {
	if len(l.keys) == 0 {
		return
	}
	after := signedKeys(st, l.out)
	if keyID == "" {
		var replaced []string
		for _, s := range l.specs(nil) {
			if _, ok := after[s]; !ok {
				replaced = append(replaced, s)
			}
		}
		if len(replaced) == 1 {
			fmt.Fprintf(w, "warning: replaced the signed image of %s with an unsigned build (--replace-signed): its signatures and attestations are gone from the layout\n", replaced[0])
		} else if len(replaced) > 1 {
			fmt.Fprintf(w, "warning: replaced the signed images of %s with unsigned builds (--replace-signed): %s; their signatures and attestations are gone from the layout\n", count(len(replaced), "spec"), names(replaced))
		}
		kept := (signedLayout{keys: after}).specs(nil)
		switch {
		case len(kept) == 1:
			fmt.Fprintf(w, "warning: 1 spec keeps its signed image (%s): the layout is signed only in part\n", kept[0])
		case len(kept) > 1:
			fmt.Fprintf(w, "warning: %s keep their signed images (%s): the layout is signed only in part\n", count(len(kept), "spec"), names(kept))
		}
		return
	}
	// A signed build: the specs another key had signed, now this key's
	// alone, and those still another key's.
	var replaced []string
	for _, s := range l.specs(func(_ string, ks []string) bool { return otherKey(ks, keyID) }) {
		if ks, ok := after[s]; ok && !otherKey(ks, keyID) {
			replaced = append(replaced, s)
		}
	}
	if len(replaced) > 0 {
		fmt.Fprintf(w, "replaced the images of %s signed by %s with images signed by key %s (--replace-signed): %s\n", count(len(replaced), "spec"), l.keysOf(replaced), shortKey(keyID), names(replaced))
	}
	now := signedLayout{out: l.out, keys: after}
	if kept := now.specs(func(_ string, ks []string) bool { return otherKey(ks, keyID) }); len(kept) > 0 {
		fmt.Fprintf(w, "warning: the images of %s are still signed by %s (%s): the layout is signed by more than one key, and hic publish --key %s refuses them until they are rebuilt with it\n", count(len(kept), "spec"), now.keysOf(kept), names(kept), shortKey(keyID))
	}
}

// shortKey is a key id as hic's messages give it (16 hex digits).
func shortKey(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// names lists refs, the first few only when there are many.
func names(refs []string) string {
	const most = 5
	if len(refs) <= most {
		return strings.Join(refs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(refs[:most], ", "), len(refs)-most)
}
