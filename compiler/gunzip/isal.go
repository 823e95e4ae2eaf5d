//go:build isal && cgo

package gunzip

/*
#cgo LDFLAGS: -lisal
#include <stdlib.h>
#include <stdint.h>
#include <isa-l/igzip_lib.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { hic_in_size = 1 << 18, hic_out_size = 1 << 20 };

// hic_gunzip is one stream's state and buffers, all in C memory: the
// state keeps pointers into both buffers between calls.
typedef struct {
	struct inflate_state s;
	uint8_t in[hic_in_size];
	uint8_t out[hic_out_size];
} hic_gunzip;

static hic_gunzip *hic_gunzip_new(void) {
	hic_gunzip *z = malloc(sizeof *z);
	if (z != NULL) {
		isal_inflate_init(&z->s);
	}
	return z;
}

// hic_gunzip_member starts inflating a member whose header has been read,
// keeping the input not yet read. ISA-L reads no header (it cannot resume
// one split across calls), but checks the trailer's CRC-32 and size.
static void hic_gunzip_member(hic_gunzip *z) {
	uint8_t *next_in = z->s.next_in;
	uint32_t avail_in = z->s.avail_in;
	isal_inflate_init(&z->s);
	z->s.crc_flag = ISAL_GZIP_NO_HDR_VER;
	z->s.next_in = next_in;
	z->s.avail_in = avail_in;
}

// hic_gunzip_step inflates what it can of the input into the whole of
// the output buffer. ISA-L's AVX-512 inflate can return with the upper
// vector state dirty; the SSE-encoded SHA-NI code Go hashes with then runs
// three to six times slower on that thread (measured: sha1 and sha256 of
// a realistic build went from 5.3 to 20.1 s) until vzeroupper clears it.
static int hic_gunzip_step(hic_gunzip *z) {
	z->s.next_out = z->out;
	z->s.avail_out = hic_out_size;
	int ret = isal_inflate(&z->s);
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx")) {
		__asm__ volatile("vzeroupper");
	}
#endif
	return ret;
}

// hic_gunzip_step_xinuse is hic_gunzip_step for the tests: it also
// stores XGETBV(1), the vector state components left in use, and says
// whether the CPU can tell (CPUID leaf 0xd, sub-leaf 1, bit 2).
static int hic_gunzip_step_xinuse(hic_gunzip *z, uint64_t *inuse, int *known) {
	int ret = hic_gunzip_step(z);
	*known = 0;
#if defined(__x86_64__)
	unsigned a, b, c, d;
	if (__get_cpuid_count(0xd, 1, &a, &b, &c, &d) && (a & (1u << 2))) {
		uint32_t lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
		*inuse = ((uint64_t)hi << 32) | lo;
		*known = 1;
	}
#endif
	return ret;
}

static int hic_gunzip_finished(hic_gunzip *z) {
	return z->s.block_state == ISAL_BLOCK_FINISH;
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"unsafe"
)

const implementation = "isa-l"

type isalReader struct {
	src     io.Reader
	z       *C.hic_gunzip
	cleanup runtime.Cleanup // frees z if the reader is dropped unclosed
	out     []byte          // inflated and not yet read: a view of z.out
	eof     bool            // src gives no more: it ended, or failed with srcErr
	srcErr  error           // src's error, returned once its data is used
	err     error           // what Read returns once out is drained
}

// NewReader returns a reader of the decompressed content of the gzip
// stream r. A stream that is empty gives io.EOF, one that does not start
// with a gzip header ErrHeader. Close releases what the reader holds; it
// does not close r.
func NewReader(r io.Reader) (io.ReadCloser, error) {
	z := C.hic_gunzip_new()
	if z == nil {
		return nil, errors.New("gunzip: cannot allocate the inflate state")
	}
	g := &isalReader{src: r, z: z}
	g.cleanup = runtime.AddCleanup(g, func(z *C.hic_gunzip) { C.free(unsafe.Pointer(z)) }, z)
	// As compress/gzip does, read the header before the first Read.
	if err := g.header(); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (g *isalReader) Read(p []byte) (int, error) {
	if g.z == nil {
		return 0, errors.New("gunzip: read after Close")
	}
	for len(g.out) == 0 {
		if g.err != nil {
			return 0, g.err
		}
		g.err = g.step()
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

// step inflates one buffer's worth, reading more input first when little
// is left, and returns the error that ends the stream: io.EOF after the
// last member's trailer checked out.
func (g *isalReader) step() error {
	s := &g.z.s
	if C.hic_gunzip_finished(g.z) != 0 {
		// A member ended and its trailer matched. Another may follow,
		// as compress/gzip reads concatenated members.
		if err := g.header(); err != nil {
			return err
		}
	}
	if !g.eof && s.avail_in < C.hic_in_size/2 {
		g.fill()
	}
	before := s.avail_in
	ret := C.hic_gunzip_step(g.z)
	n := C.hic_out_size - int(s.avail_out)
	g.out = unsafe.Slice((*byte)(unsafe.Pointer(&g.z.out[0])), n)
	if ret < 0 {
		return inflateError(ret)
	}
	if n == 0 && s.avail_in == before && C.hic_gunzip_finished(g.z) == 0 {
		// Nothing inflated and nothing taken: the stream needs input that
		// is not there.
		if g.eof {
			return g.ended(io.ErrUnexpectedEOF)
		}
		if s.avail_in >= C.hic_in_size/2 {
			return errors.New("gunzip: inflater made no progress")
		}
	}
	return nil
}

// Header flags (RFC 1952, 2.3.1).
const (
	flagHdrCrc  = 1 << 1
	flagExtra   = 1 << 2
	flagName    = 1 << 3
	flagComment = 1 << 4
)

// header reads the gzip header of the next member as compress/gzip does
// (names and comments shorter than 512 bytes, the header's CRC-16 when
// flagged) and starts inflating the member after it. At the end of the
// input, before any byte of a header, it returns io.EOF.
func (g *isalReader) header() error {
	// need returns the input with at least n bytes in it.
	need := func(n int) ([]byte, error) {
		for len(g.input()) < n && !g.eof {
			g.fill()
		}
		in := g.input()
		if len(in) < n {
			return nil, g.ended(io.ErrUnexpectedEOF)
		}
		return in, nil
	}
	if _, err := need(1); err != nil {
		return g.ended(io.EOF)
	}
	in, err := need(10)
	if err != nil {
		return err
	}
	if in[0] != 0x1f || in[1] != 0x8b || in[2] != 8 {
		return ErrHeader
	}
	flags, n := in[3], 10
	if flags&flagExtra != 0 {
		if in, err = need(n + 2); err != nil {
			return err
		}
		n += 2 + int(binary.LittleEndian.Uint16(in[n:]))
		if _, err = need(n); err != nil {
			return err
		}
	}
	for _, f := range []byte{flagName, flagComment} {
		if flags&f == 0 {
			continue
		}
		for i := 0; ; i++ {
			if i >= 512 {
				return ErrHeader
			}
			if in, err = need(n + 1); err != nil {
				return err
			}
			n++
			if in[n-1] == 0 {
				break
			}
		}
	}
	if flags&flagHdrCrc != 0 {
		if in, err = need(n + 2); err != nil {
			return err
		}
		if binary.LittleEndian.Uint16(in[n:]) != uint16(crc32.ChecksumIEEE(in[:n])) {
			return ErrHeader
		}
		n += 2
	}
	s := &g.z.s
	s.next_in = (*C.uint8_t)(unsafe.Add(unsafe.Pointer(s.next_in), n))
	s.avail_in -= C.uint32_t(n)
	C.hic_gunzip_member(g.z)
	return nil
}

// fill moves the input not yet read to the front of the input buffer and
// reads more after it. An error of src ends its input as its end would,
// to be returned once the data before it is used.
func (g *isalReader) fill() {
	s := &g.z.s
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&g.z.in[0])), C.hic_in_size)
	rest := copy(buf, g.input())
	n, err := g.src.Read(buf[rest:])
	s.next_in = &g.z.in[0]
	s.avail_in = C.uint32_t(rest + n)
	if err != nil {
		g.eof = true
		if err != io.EOF {
			g.srcErr = err
		}
	}
}

// ended is what the stream's end gives, err, unless src failed: then it
// is src's error.
func (g *isalReader) ended(err error) error {
	if g.srcErr != nil {
		return g.srcErr
	}
	return err
}

// input is the input read and not yet inflated.
func (g *isalReader) input() []byte {
	s := &g.z.s
	if s.avail_in == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(s.next_in)), s.avail_in)
}

func (g *isalReader) Close() error {
	if g.z != nil {
		g.cleanup.Stop()
		C.free(unsafe.Pointer(g.z))
		g.z = nil
		g.out = nil
	}
	return nil
}

func inflateError(ret C.int) error {
	switch ret {
	case C.ISAL_INVALID_WRAPPER, C.ISAL_UNSUPPORTED_METHOD:
		return ErrHeader
	case C.ISAL_INCORRECT_CHECKSUM:
		return ErrChecksum
	case C.ISAL_INVALID_BLOCK:
		return errors.New("gunzip: corrupt input: invalid deflate block")
	case C.ISAL_INVALID_SYMBOL:
		return errors.New("gunzip: corrupt input: invalid deflate symbol")
	case C.ISAL_INVALID_LOOKBACK:
		return errors.New("gunzip: corrupt input: distance beyond the window")
	}
	return fmt.Errorf("gunzip: inflate failed (ISA-L code %d)", int(ret))
}

// upperVectorsDirty runs one inflate step of r and reports whether it left
// the upper halves of the vector registers in use (XINUSE's AVX and
// ZMM_Hi256 components), and whether this CPU can tell.
func upperVectorsDirty(r *isalReader) (dirty, known bool) {
	var inuse C.uint64_t
	var k C.int
	C.hic_gunzip_step_xinuse(r.z, &inuse, &k)
	return inuse&(1<<2|1<<6) != 0, k != 0
}
