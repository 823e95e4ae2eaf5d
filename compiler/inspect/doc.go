// Package inspect owns the post-build hardening checks: the "built filesystem"
// rules of ARCHITECTURE.md (fs-setuid, fs-world-writable, fs-shell,
// fs-package-manager, fs-run-as-user, fs-entrypoint, fs-sbom), run on the
// flattened root filesystem of one platform of a built image, reported as
// finding.Findings.
//
// It also owns RootFS, an in-memory view of an image's flattened root
// filesystem (FromLayers) that keeps mode bits (setuid, setgid, sticky),
// owners and symlinks, and SBOMPackages, which reads the package list of an
// SPDX SBOM. It does not build images, parse specs or decide exit codes.
package inspect
