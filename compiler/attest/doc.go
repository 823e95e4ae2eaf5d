// Package attest builds hic's in-toto attestations, signs them into DSSE
// envelopes and stores them next to their image in an OCI image layout as
// OCI 1.1 referrers.
//
// # Statements
//
// Every attestation is an in-toto Statement v1 (https://in-toto.io/Statement/v1)
// whose subjects are image digests: the image index and each platform
// manifest. hic writes these predicates:
//
//   - SLSA provenance v1 (https://slsa.dev/provenance/v1) with the build
//     type https://hic.dev/build/v1, described below;
//   - the SPDX SBOM apko wrote, as it is (https://spdx.dev/Document);
//   - a CycloneDX 1.6 SBOM converted from that SPDX document
//     (https://cyclonedx.org/bom);
//   - hic's hardening report (https://hic.dev/attestations/hardening/v1):
//     every rule checked with pass, fail or waived (and the exception's
//     reason), and the findings.
//
// Statements are encoded with encoding/json from plain structs, so the same
// inputs always give the same bytes.
//
// # Build type https://hic.dev/build/v1
//
// externalParameters, the inputs a user controls:
//
//	{"spec": "nginx:1.29-wolfi-runtime",       // the spec ref built
//	 "catalog": {"digest": "sha256:…",         // digest of the catalog sources
//	             "gitCommit": "…",             // when the catalog is a git checkout
//	             "file": "nginx/image.cue",    // the spec's source file
//	             "advisoriesDigest": "sha256:…"}} // the advisories about the
//	                                           // installed packages, which the
//	                                           // OpenVEX document states (when any)
//
// internalParameters, what hic derived from them:
//
//	{"compiledSpecDigest": "sha256:…"}         // the flat compiled spec (out/compiled/)
//
// resolvedDependencies lists every installed APK package, sorted by name,
// version and arch, as
//
//	{"uri": "pkg:apk/wolfi/busybox@1.37.0-r0?arch=x86_64&repository_url=…",
//	 "name": "busybox",
//	 "digest": {"sha256": "…"},                 // of the .apk file installed
//	 "downloadLocation": "<repository>/<arch>/<name>-<version>.apk",
//	                                            // only when fetched from there
//	 "annotations": {"apkChecksum": "Q1…",      // the APKINDEX "C:" checksum
//	                 "repository": "https://packages.wolfi.dev/os",
//	                 "source": "repository"}}  // or "mirror", "synthetic-mirror"
//
// The digest is the SHA-256 of the whole .apk file the package was
// installed from, hashed in the read that verified it (compiler/build):
// what fetching the file and hashing it gives. When the builder does not
// know it, the descriptor has no digest. The APK checksum (the "C:" field
// of APKINDEX, the hash apk itself checks, "Q1"+base64 SHA-1 of the
// control segment only) is no digest of the file, so it is the apkChecksum
// annotation, as the lock and the apk database have it.
//
// The uri names the package by its identity: the catalog's repository (the
// repository annotation and the purl's repository_url), which the lock and
// the image's /etc/apk/repositories name too, wherever the bytes were read
// from. downloadLocation is where the bytes were actually fetched from, and
// is set only for a package fetched from its repository (source
// "repository"; a noarch package from the build's arch directory). A
// package read from a local mirror (hic build --mirrors, source "mirror")
// has none: its file was read from a directory that is no location for
// anyone else (the path is not recorded, so that the attestations do not
// depend on it), and the repository's file may not be these bytes. Source
// "synthetic-mirror" marks a package of a mirror hic mirror generated
// (apkrepo.SyntheticFile): its contents are synthetic, not the
// repository's, as the hardening report's "synthetic" says too. For the
// purl, a distro "alpine-3.22" becomes the namespace "alpine" and the
// qualifier distro=alpine-3.22.
//
// runDetails.builder is {"id": "https://hic.dev/builder/v1", "version":
// {"hic": …, "apko": …}}. runDetails.metadata is derived from the inputs,
// never from the wall clock, so that rebuilding gives byte-identical
// attestations: invocationId is the spec's input digest (the hash of the
// compiled spec, the lock, the tool versions and the key identity; when the
// caller has none, a SHA-256 over the provenance inputs), and startedOn and
// finishedOn are both the image's reproducible creation time (the build
// epoch apko stamps into the image); they are left out when it is unknown.
//
// # Storage as OCI 1.1 referrers
//
// Each signed envelope is stored as one OCI image manifest per subject, in the
// form cosign writes attestation referrers:
//
//	mediaType     application/vnd.oci.image.manifest.v1+json
//	artifactType  application/vnd.in-toto+json
//	config        the empty descriptor (application/vnd.oci.empty.v1+json, "{}")
//	layers        [the DSSE envelope, application/vnd.dsse.envelope.v1+json,
//	               annotated predicateType and in-toto.io/predicate-type]
//	subject       the image index or platform manifest
//	annotations   in-toto.io/predicate-type
//
// The manifest is listed in the layout's index.json with the annotations
// dev.hic.attestation.subject (the subject digest) and
// in-toto.io/predicate-type, and without org.opencontainers.image.ref.name,
// so tools that list the layout's images by name do not see it. Referrers
// finds them by reading index.json and checking each manifest's subject.
// The same envelope blob is shared by all manifests that carry it.
//
// Image signatures (cosign's simple signing payload and its signature, see
// SignImages) are stored the same way, with artifactType
// application/vnd.dev.cosign.artifact.sig.v1+json and one layer, the payload
// (application/vnd.dev.cosign.simplesigning.v1+json), annotated
// dev.cosignproject.cosign/signature. compiler/publish turns both kinds into
// cosign's .att and .sig tags when pushing.
//
// The package does not push (compiler/publish writes the same envelopes to
// registries, as referrers and in cosign's .att tag form) and does not
// verify images (compiler/verify).
package attest
