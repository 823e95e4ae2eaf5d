// Package apkindex reads a distro's real, signed APKINDEX.tar.gz files into
// a package universe: it verifies each index's signature against pinned
// keys (RSA over SHA-1 as Alpine signs, over SHA-256 as melange signs),
// parses what was signed with apko, and merges the result with the previous
// universe (`hic index import`). KeyFingerprint is the fingerprint key pins
// are written in. The universe itself (its format, look-ups, version order)
// is compiler/universe, which `hic verify` and `hic plan` link without apko.
package apkindex
