// Package site writes the static HTML catalog auditors read: an index of
// every spec with search and filters (category, distro, variant, end-of-life
// status), a page per spec (streams, variants, tags, digests per platform,
// the packages of the SBOM with versions and licenses, the hardening
// checklist with every waiver and its reason, post-build findings, smoke
// tests, the attestations with the commands that verify them, the OpenVEX
// statements and the compiled spec) and catalog.json for machines.
//
// Everything comes from the compiled catalog, the build report and the OCI
// layout of a build; the site has no external assets and works from the
// file system. The package reads; it never builds, signs or verifies.
package site
