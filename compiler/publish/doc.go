// Package publish pushes built images from an OCI image layout to a registry:
// every image index with its child manifests and blobs under
// REGISTRY/PREFIX/<repository>:<tag> for each of its tags, and the
// attestations and signatures stored next to them as OCI 1.1 referrers,
// pushed both through the registry's referrers API (manifests with a
// subject; or the referrers tag schema where the registry lacks that API)
// and in the tag form cosign reads (sha256-<hex>.att and .sig).
//
// Publishing is idempotent: blobs and manifests the registry already has are
// checked with HEAD and not sent again. Requests that fail with 5xx, 429 or a
// broken connection are retried a bounded number of times with exponential
// backoff and jitter, honouring Retry-After; then Publish stops with an error
// naming the image and the registry.
//
// The package does not build, sign or attest anything: it moves what the
// store, sign and attest stages wrote.
package publish
