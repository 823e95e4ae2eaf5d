// Package sign owns hic's signing keys and signatures: it generates, writes
// and loads ECDSA P-256 key pairs, signs and verifies DSSE envelopes (the
// wrapper of every in-toto attestation hic writes), and signs the cosign
// "simple signing" payload of the `.sig` form.
//
// # Keys
//
// The private key is a PKCS#8 PEM block ("PRIVATE KEY", file mode 0600), the
// public key a PKIX PEM block ("PUBLIC KEY"). The public key is what cosign
// reads with `--key pub.pem`. cosign signs only with its own encrypted key
// format; `cosign import-key-pair --key hic.key` converts an unencrypted
// PKCS#8 key into it, so one key pair serves both tools.
//
// A key's id is the lowercase hex SHA-256 of its PKIX (DER) public key; hic
// names keys by it in reports and in hic verify's output. DSSE signatures
// carry an empty keyid, as cosign's do: every DSSE verifier (go-securesystemslib,
// in-toto-golang, cosign) derives its own id from the key it is given and
// skips a signature whose keyid is set and differs, so an empty keyid is the
// one that every verifier accepts.
//
// # Signatures
//
// Every signature is ECDSA P-256 over the SHA-256 of the signed bytes,
// encoded as ASN.1 DER: for DSSE the signed bytes are the DSSE pre-auth
// encoding (PAE) of payload type and payload, for the `.sig` form the simple
// signing payload itself. This is exactly what cosign verifies.
//
// Signer is the seam for other key stores (a KMS, a hardware key): anything
// that signs SHA-256 digests with ECDSA and knows its public key.
//
// The package does not decide what is signed (compiler/attest builds the
// statements) nor where signatures are stored (compiler/attest writes the
// OCI layout, compiler/publish pushes to registries).
package sign
