// Package gunzip owns decompressing gzip streams on hic's hot path: the
// data segment of every package the build checks and expands, more than a
// gigabyte of inflating for a realistic catalog build.
//
// Built with the isal tag (and cgo), it inflates with Intel's ISA-L igzip
// (Debian's libisal-dev), three to four times the speed of the pure-Go
// inflaters on package data; otherwise with klauspost/compress. Both read
// a stream the way compress/gzip does, concatenated members included, and
// both check every member's CRC-32 and size: they differ in speed only.
package gunzip

import "compress/gzip"

// ErrHeader and ErrChecksum are the errors compress/gzip gives, and
// NewReader's readers too, for a stream that does not start as gzip and
// for a member whose CRC-32 or size does not match its content.
var (
	ErrHeader   = gzip.ErrHeader
	ErrChecksum = gzip.ErrChecksum
)

// Implementation names the inflater this binary was built with: "isa-l"
// or "klauspost".
const Implementation = implementation
