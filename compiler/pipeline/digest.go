package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"runtime/debug"

	"github.com/hic-build/hic/compiler/compile"
)

// apkoModule is the module path whose version feeds the input digest.
const apkoModule = "chainguard.dev/apko"

// Versions are the tool versions (and key identity) that feed the input digest.
type Versions struct {
	Hic  string `json:"hic"`
	Apko string `json:"apko"`
	Key  string `json:"key,omitempty"`
}

// ApkoVersion returns the version of apko linked into this binary, from its
// build info ("v0.30.34"; a replaced module reports its replacement), or
// "unknown".
func ApkoVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return moduleVersion(bi, apkoModule)
}

// moduleVersion returns the version of module path in bi, or "unknown"
// (test binaries list no dependencies).
func moduleVersion(bi *debug.BuildInfo, path string) string {
	for _, d := range bi.Deps {
		if d.Path != path {
			continue
		}
		if d.Replace != nil {
			return d.Replace.Path + "@" + d.Replace.Version
		}
		return d.Version
	}
	return "unknown"
}

// InputDigest returns "sha256:<hex>" over the canonical JSON (object keys
// sorted, no insignificant space) of {"spec": img, "lock": lock, "versions":
// v}. Two specs with the same digest build the same image.
func InputDigest(img compile.Image, lock Lock, v Versions) (string, error) {
	lb, err := lock.Marshal()
	if err != nil {
		return "", err
	}
	doc, err := json.Marshal(struct {
		Spec     compile.Image   `json:"spec"`
		Lock     json.RawMessage `json:"lock"`
		Versions Versions        `json:"versions"`
	}{img, lb, v})
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
