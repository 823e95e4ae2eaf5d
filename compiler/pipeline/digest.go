package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/hic-build/hic/compiler/build"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/vex"
)

// Versions are the tool versions (and key identity) that feed the input digest.
type Versions struct {
	Hic  string `json:"hic"`
	Apko string `json:"apko"`
	Key  string `json:"key,omitempty"`
}

// ApkoVersion returns the version of apko linked into this binary
// (build.ApkoVersion): the one the input digest, the provenance and the
// SBOMs name.
func ApkoVersion() string { return build.ApkoVersion() }

// InputDigest returns "sha256:<hex>" over the canonical JSON (object keys
// sorted, no insignificant space) of {"spec": img, "lock": lock, "versions":
// v, "advisories": advisories}, where advisories is the digest of the
// catalog's advisories about the lock's packages (AdvisoriesDigest), left
// out when "" (none is about them). Two specs with the same digest build the
// same image with the same attestations.
func InputDigest(img compile.Image, lock Lock, v Versions, advisories string) (string, error) {
	lb, err := lock.Marshal()
	if err != nil {
		return "", err
	}
	doc, err := json.Marshal(struct {
		Spec       compile.Image   `json:"spec"`
		Lock       json.RawMessage `json:"lock"`
		Versions   Versions        `json:"versions"`
		Advisories string          `json:"advisories,omitempty"`
	}{img, lb, v, advisories})
	if err != nil {
		return "", err
	}
	canon, err := canonicalJSON(doc)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// AdvisoriesDigest is the digest of the advisories of adv about the
// packages lock installs (vex.Advisories.DigestFor): the advisories the
// spec's signed OpenVEX document is made from, which the attacher selects
// by the names of the installed packages, the lock's. A lock that names no
// packages (not a PackageLock) is taken to install every package adv has
// advisories about. It is "" when adv is nil or none is about the lock.
func AdvisoriesDigest(adv *vex.Advisories, lock Lock) (string, error) {
	if adv == nil {
		return "", nil
	}
	if m, ok := lock.(marshaledLock); ok {
		lock = m.Lock
	}
	var names []string
	if pl, ok := lock.(PackageLock); ok {
		names = pl.PackageNames()
	} else {
		for p := range adv.ByPackage {
			names = append(names, p)
		}
	}
	return adv.DigestFor(names)
}

// canonicalJSON re-encodes b with sorted object keys and numbers kept as
// written.
func canonicalJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
