// Package resolve locks the packages of one compiled spec: for every
// architecture of the image it asks apko's resolver which exact package
// versions the configuration installs, from the catalog's repositories or
// from local mirrors of them, and records name, version, repository URL,
// APK control checksum, size and build time of each as a Lock.
//
// It owns the mapping of catalog repositories onto mirrors (Sources), which
// the build uses too, so that a mirror's host path never reaches an image or
// a lock, and the check of a mirror index's signature against the keys the
// spec's keyring trusts (ReadIndex), done on every call because apko's
// process-wide index cache ignores which keys an index was checked with.
// It does not fetch package files or install anything; package build
// verifies each package file against its index right before apko installs it.
package resolve
