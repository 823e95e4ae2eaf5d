package apkrepo

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
)

// contentBlock is the unit of the synthetic content pattern.
const contentBlock = 1024

// content returns a reader of n deterministic pseudo-random bytes for seed.
//
// The bytes look roughly like a compiled binary to a compressor: per 4 KiB
// one block of zeros, one of full-entropy noise and two of low-entropy
// (6 bits per byte) noise, so gzip shrinks them to about 60% — neither
// free to compress (all zeros) nor incompressible.
func content(seed uint64, n int64) io.Reader {
	return &contentReader{rng: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15), left: n, pos: contentBlock}
}

type contentReader struct {
	rng   *rand.PCG
	left  int64 // bytes still to produce
	block int64 // index of the block in buf
	buf   [contentBlock]byte
	pos   int // next unread byte of buf; contentBlock when empty
}

func (r *contentReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		if r.pos == contentBlock {
			r.fill()
		}
		c := copy(p[n:], r.buf[r.pos:])
		r.pos += c
		n += c
	}
	r.left -= int64(n)
	return n, nil
}

// fill generates the next whole block, so output never depends on how
// callers chunk their reads.
func (r *contentReader) fill() {
	switch r.block % 4 {
	case 0:
		clear(r.buf[:])
	case 1:
		fillRandom(r.rng, r.buf[:], 0xff)
	default:
		fillRandom(r.rng, r.buf[:], 0x3f)
	}
	r.block++
	r.pos = 0
}

// fillRandom fills p with random bytes, each masked with mask.
func fillRandom(rng *rand.PCG, p []byte, mask byte) {
	m := uint64(mask) * 0x0101010101010101
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, rng.Uint64()&m)
		p = p[8:]
	}
	if len(p) > 0 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rng.Uint64()&m)
		copy(p, b[:])
	}
}
