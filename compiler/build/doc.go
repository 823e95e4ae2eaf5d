// Package build builds one compiled spec into a multi-platform OCI image
// index with SPDX SBOMs, through apko as a library, from the packages a
// resolve.Lock names.
//
// It owns what apko leaves to its callers: verifying every locked package
// file of a mirror against the mirror's signed index before apko installs it
// (and expanding it into apko's package cache in the same read, so apko
// does not read it again), checking the package cache entries apko reads,
// checking that apko installed exactly the locked packages, the digest of
// every installed package file (Result.Files, for the provenance), a build date
// taken from the packages (never the clock or the environment), images that
// do not depend on where mirrors, caches or temporary directories live, and
// removing apko's temporary files. It does not resolve packages (package
// resolve), write OCI layouts or push (package store), or check the built
// filesystem (package inspect); Result.Filesystem gives that check its input.
package build
