// Package resolve locks the packages of one compiled spec: for every
// architecture of the image it asks apko's resolver which exact package
// versions the configuration installs, from the catalog's repositories or
// from local mirrors of them, and records name, version, repository URL and
// the APK control checksum of each as a Lock.
//
// It owns the mapping of catalog repositories onto mirrors (Sources), which
// the build uses too, so that a mirror's host path never reaches an image.
// It does not fetch package files, install anything or verify packages
// against their index: that happens in package build, right before apko
// installs them.
package resolve
