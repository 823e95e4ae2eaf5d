package apkrepo

import (
	"encoding/binary"
	"fmt"
)

// SyntheticMarker ends the line every synthetic executable prints, so a
// smoke test that passed on synthetic contents can say so.
const SyntheticMarker = "(synthetic hic mirror package)"

// VersionProgram returns a tiny static Linux ELF executable for an apk arch
// (x86_64 or aarch64) that writes "NAME VERSION (synthetic hic mirror
// package)\n" to standard output and exits 0, whatever its arguments: a
// synthetic package's command answers `--version` with the package's
// version, so smoke tests run across the catalog offline. It is a single
// PT_LOAD segment of machine code and the message; bytes appended after it
// are never loaded, so a file can be padded to a realistic size.
func VersionProgram(arch, name, version string) ([]byte, error) {
	msg := []byte(fmt.Sprintf("%s %s %s\n", name, version, SyntheticMarker))
	if len(msg) > 4000 {
		return nil, fmt.Errorf("version program %s: message too long", name)
	}
	var code []byte
	var machine uint16
	switch arch {
	case "x86_64":
		machine = 62 // EM_X86_64
		code = []byte{
			0xb8, 1, 0, 0, 0, // mov eax, 1 (write)
			0xbf, 1, 0, 0, 0, // mov edi, 1 (stdout)
			0x48, 0x8d, 0x35, 16, 0, 0, 0, // lea rsi, [rip+16] (msg)
			0xba, 0, 0, 0, 0, // mov edx, len(msg)
			0x0f, 0x05, // syscall
			0xb8, 60, 0, 0, 0, // mov eax, 60 (exit)
			0x31, 0xff, // xor edi, edi
			0x0f, 0x05, // syscall
		}
		binary.LittleEndian.PutUint32(code[18:], uint32(len(msg)))
	case "aarch64":
		machine = 183 // EM_AARCH64
		words := []uint32{
			0xd2800020,                       // movz x0, #1 (stdout)
			0x100000e1,                       // adr x1, .+28 (msg)
			0xd2800002 | uint32(len(msg))<<5, // movz x2, #len(msg)
			0xd2800808,                       // movz x8, #64 (write)
			0xd4000001,                       // svc #0
			0xd2800000,                       // movz x0, #0
			0xd2800ba8,                       // movz x8, #93 (exit)
			0xd4000001,                       // svc #0
		}
		for _, w := range words {
			code = binary.LittleEndian.AppendUint32(code, w)
		}
	default:
		return nil, fmt.Errorf("version program %s: unsupported arch %q", name, arch)
	}
	const (
		ehsize = 64
		phsize = 56
		base   = 0x400000
	)
	size := uint64(ehsize + phsize + len(code) + len(msg))
	b := make([]byte, 0, size)
	b = append(b, 0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little endian */, 1 /* version */, 0 /* SysV */)
	b = append(b, make([]byte, 8)...)
	le := binary.LittleEndian
	b = le.AppendUint16(b, 2) // ET_EXEC
	b = le.AppendUint16(b, machine)
	b = le.AppendUint32(b, 1)                  // EV_CURRENT
	b = le.AppendUint64(b, base+ehsize+phsize) // entry
	b = le.AppendUint64(b, ehsize)             // phoff
	b = le.AppendUint64(b, 0)                  // shoff
	b = le.AppendUint32(b, 0)                  // flags
	b = le.AppendUint16(b, ehsize)
	b = le.AppendUint16(b, phsize)
	b = le.AppendUint16(b, 1) // phnum
	b = le.AppendUint16(b, 0) // shentsize
	b = le.AppendUint16(b, 0) // shnum
	b = le.AppendUint16(b, 0) // shstrndx
	// The one program header: load the whole file read+execute.
	b = le.AppendUint32(b, 1) // PT_LOAD
	b = le.AppendUint32(b, 5) // PF_R|PF_X
	b = le.AppendUint64(b, 0) // offset
	b = le.AppendUint64(b, base)
	b = le.AppendUint64(b, base)
	b = le.AppendUint64(b, size) // filesz
	b = le.AppendUint64(b, size) // memsz
	b = le.AppendUint64(b, 0x1000)
	b = append(b, code...)
	b = append(b, msg...)
	return b, nil
}
