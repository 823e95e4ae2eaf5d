package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Type and predicate type URIs.
const (
	StatementType = "https://in-toto.io/Statement/v1"

	PredicateSLSAProvenance = "https://slsa.dev/provenance/v1"
	PredicateSPDX           = "https://spdx.dev/Document"
	PredicateCycloneDX      = "https://cyclonedx.org/bom"
	PredicateHardening      = "https://hic.dev/attestations/hardening/v1"
)

// Subject is an image an attestation is about: the image index or one
// platform manifest. Name and Digest go into the statement; the whole
// descriptor (MediaType, Size) is the subject of the referrer manifest.
type Subject struct {
	// Name is the statement subject's name, the image repository
	// ("registry.example/hic/nginx", or "nginx" before publishing).
	Name      string
	Digest    v1.Hash
	MediaType types.MediaType
	Size      int64
}

// Descriptor returns the OCI descriptor of the subject.
func (s Subject) Descriptor() v1.Descriptor {
	return v1.Descriptor{MediaType: s.MediaType, Digest: s.Digest, Size: s.Size}
}

// ResourceDescriptor is the in-toto v1 resource descriptor, with the fields
// hic uses.
type ResourceDescriptor struct {
	Name             string            `json:"name,omitempty"`
	URI              string            `json:"uri,omitempty"`
	Digest           map[string]string `json:"digest,omitempty"`
	DownloadLocation string            `json:"downloadLocation,omitempty"`
	MediaType        string            `json:"mediaType,omitempty"`
	Annotations      map[string]string `json:"annotations,omitempty"`
}

// Statement is an in-toto Statement v1.
type Statement struct {
	Type          string               `json:"_type"`
	Subject       []ResourceDescriptor `json:"subject"`
	PredicateType string               `json:"predicateType"`
	Predicate     json.RawMessage      `json:"predicate"`
}

// NewStatement returns a statement about subjects with a predicate, which is
// marshalled to JSON unless it is a json.RawMessage or []byte already.
func NewStatement(subjects []Subject, predicateType string, predicate any) (*Statement, error) {
	if len(subjects) == 0 {
		return nil, errors.New("statement: no subjects")
	}
	if predicateType == "" {
		return nil, errors.New("statement: no predicate type")
	}
	var raw json.RawMessage
	switch p := predicate.(type) {
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	default:
		b, err := json.Marshal(predicate)
		if err != nil {
			return nil, fmt.Errorf("statement %s: marshal predicate: %w", predicateType, err)
		}
		raw = b
	}
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); !json.Valid(raw) || len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("statement %s: predicate is not a JSON object", predicateType)
	}
	st := &Statement{Type: StatementType, PredicateType: predicateType, Predicate: raw}
	for _, s := range subjects {
		if s.Digest.Algorithm == "" || s.Digest.Hex == "" {
			return nil, fmt.Errorf("statement %s: subject %q has no digest", predicateType, s.Name)
		}
		st.Subject = append(st.Subject, ResourceDescriptor{
			Name:   s.Name,
			Digest: map[string]string{s.Digest.Algorithm: s.Digest.Hex},
		})
	}
	return st, nil
}

// Marshal returns the statement's JSON, compact, the payload of its envelope.
func (s *Statement) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "&" in purls as it is
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("marshal statement %s: %w", s.PredicateType, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// SubjectDigests returns the digests of the statement's subjects.
func (s *Statement) SubjectDigests() []v1.Hash {
	var hs []v1.Hash
	for _, rd := range s.Subject {
		keys := make([]string, 0, len(rd.Digest))
		for k := range rd.Digest {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, alg := range keys {
			hs = append(hs, v1.Hash{Algorithm: alg, Hex: rd.Digest[alg]})
		}
	}
	return hs
}

// ParseStatement decodes a statement and checks its type, subjects and
// predicate type.
func ParseStatement(data []byte) (*Statement, error) {
	var s Statement
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	if s.Type != StatementType {
		return nil, fmt.Errorf("parse statement: _type is %q, want %q", s.Type, StatementType)
	}
	if len(s.Subject) == 0 {
		return nil, errors.New("parse statement: no subjects")
	}
	for i, rd := range s.Subject {
		if len(rd.Digest) == 0 {
			return nil, fmt.Errorf("parse statement: subject %d has no digest", i)
		}
	}
	if s.PredicateType == "" {
		return nil, errors.New("parse statement: no predicateType")
	}
	return &s, nil
}
