// Package verify checks a built image the way an auditor does, trusting only
// the public key and the catalog: the image signatures, the signature and the
// subjects of every attestation, the SBOMs against the apk database inside
// the image, the SLSA provenance against that database and the compiled spec,
// the hardening report, that the tag names the image that was signed for it,
// and optionally that a rebuild from the catalog gives the same digest.
//
// Images are read from an OCI image layout (Layout) or a registry (Registry).
// Every check gives one Check with its name; Result.OK is false if any fails.
// An image with no signature and no attestation at all is unsigned
// (Result.Unsigned): image-signature says so, and the checks that read
// statements fail as not checked for that reason, as they do when no
// attestation verifies with the key.
//
// # Checks
//
//   - blobs: every blob read (the index, platform manifests, configs,
//     layers, and the manifests, configs and layers of every referrer) hashes
//     to its descriptor's digest and has its size;
//   - image-signature: the index and every platform manifest have a cosign
//     simple-signing signature by the key that names their digest;
//   - attestation-signatures: every DSSE envelope stored for the index or a
//     platform manifest (layout referrers; in a registry, the referrers API and
//     cosign's .att tag) verifies with the key;
//   - attestation-subjects: there are verified statements, and every one is
//     about the manifest it is attached to, and about nothing outside this
//     image;
//   - sbom: each platform has a signed SPDX and a signed CycloneDX SBOM, and
//     every SPDX and CycloneDX SBOM of a platform lists exactly the
//     packages (name and version) of the platform's apk database, read from
//     the image's layers;
//   - provenance-packages: the provenance's resolvedDependencies are exactly
//     the installed packages of all platforms, matched by name, version, arch
//     and checksum (the apk database's C: field, which the apkChecksum
//     annotation states; a provenance without it is read as hic wrote it
//     before, the checksum as its digest);
//   - provenance-spec: the build type is hic's, the spec is the one asked for,
//     the digest of the spec compiled from the catalog equals
//     internalParameters.compiledSpecDigest, the pinned main package is
//     among the dependencies, and (with the catalog's advisories) the digest
//     of the advisories about the installed packages equals
//     externalParameters.catalog.advisoriesDigest;
//   - config: every platform's image config (user, entrypoint, cmd, env,
//     workdir, exposed ports, stop signal, volumes, labels) and the index and
//     manifest annotations are exactly what the compiled spec says (apko's
//     default PATH and SSL_CERT_FILE and the creation time aside);
//   - filesystem: the built-filesystem rules of package inspect pass again on
//     each platform's real layers (fs-sbom is the sbom check's);
//   - hardening: the hardening report has no failing rule;
//   - vex: the signed OpenVEX document about the index parses (go-vex), its
//     statements are valid, about this image, and name only installed
//     packages, and no two of them (of one document or of two) say
//     different things about one package and vulnerability; with
//     Options.Advisories it states exactly the catalog's advisories about
//     them, each as the build states it (status, justification, impact and
//     action statements, status notes, aliases);
//   - tag: a signature names the ref's repository, and the ref's tag is a tag
//     of the spec the provenance names, so a tag moved to another image fails;
//   - rebuild (optional): a rebuild of the spec gives the same index digest.
//
// The package does not build (the caller supplies Options.Rebuild) or load the
// catalog (the caller supplies Options.Compiled).
package verify
