package sign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// InTotoPayloadType is the DSSE payload type of an in-toto statement.
const InTotoPayloadType = "application/vnd.in-toto+json"

// EnvelopeMediaType is the media type of a DSSE envelope stored as a blob.
const EnvelopeMediaType = "application/vnd.dsse.envelope.v1+json"

// Envelope is a DSSE envelope: base64 payload, payload type and signatures.
// Its JSON form is the standard one ({"payload", "payloadType", "signatures"}).
type Envelope = dsse.Envelope

// Signature is one signature of an Envelope.
type Signature = dsse.Signature

// SignEnvelope wraps payload in a DSSE envelope of payloadType signed by s.
// The signature's keyid is empty (see the package doc).
func SignEnvelope(ctx context.Context, s Signer, payloadType string, payload []byte) (*Envelope, error) {
	if s == nil {
		return nil, errors.New("sign envelope: no signer")
	}
	es, err := dsse.NewEnvelopeSigner(dsseSigner{s})
	if err != nil {
		return nil, fmt.Errorf("sign envelope: %w", err)
	}
	env, err := es.SignPayload(ctx, payloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign envelope: %w", err)
	}
	return env, nil
}

// SignStatement signs an in-toto statement (its JSON bytes) into a DSSE
// envelope of payload type InTotoPayloadType.
func SignStatement(ctx context.Context, s Signer, statement []byte) (*Envelope, error) {
	return SignEnvelope(ctx, s, InTotoPayloadType, statement)
}

// VerifyEnvelope checks that a signature of env verifies with v and returns
// the decoded payload. A signature whose keyid is set and differs from v's
// key id is not tried. The error wraps ErrBadSignature when no signature
// verifies.
func VerifyEnvelope(ctx context.Context, v *Verifier, env *Envelope) ([]byte, error) {
	if v == nil {
		return nil, errors.New("verify envelope: no verifier")
	}
	if env == nil {
		return nil, errors.New("verify envelope: no envelope")
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("verify envelope: %w: envelope has no signatures", ErrBadSignature)
	}
	ev, err := dsse.NewEnvelopeVerifier(dsseVerifier{v})
	if err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	_, payload, err := ev.VerifyAndDecode(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("verify envelope with key %s: %w: %v", v.KeyID(), ErrBadSignature, err)
	}
	return payload, nil
}

// ParseEnvelope decodes the JSON of a DSSE envelope.
func ParseEnvelope(data []byte) (*Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("parse DSSE envelope: %w", err)
	}
	if env.PayloadType == "" || env.Payload == "" {
		return nil, errors.New("parse DSSE envelope: payloadType or payload missing")
	}
	return &env, nil
}
