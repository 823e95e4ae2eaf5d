package apkrepo

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"testing"
)

var warm = flag.Bool("warm", false, "BenchmarkWriteRepository2000: write once before timing, so signatures come from the key's memo")

// manyRequests returns n requested packages with a catalog-like mix of
// names: per 20, 12 tools (10 MB each at Scale 1), 2 python, 1 nodejs,
// 1 openjdk, 2 libraries and 2 py3- modules.
func manyRequests(n int) []Request {
	kinds := []string{"tool%d", "tool%d", "python-3.%d", "tool%d", "lib%d", "tool%d", "nodejs-%d",
		"tool%d", "py3-mod%d", "tool%d", "tool%d", "openjdk-%d", "tool%d", "lib%d", "tool%d",
		"python-3.%d", "tool%d", "py3-mod%d", "tool%d", "tool%d"}
	reqs := make([]Request, n)
	for i := range reqs {
		name := fmt.Sprintf(kinds[i%len(kinds)], i)
		reqs[i] = Request{
			Name: name, Version: fmt.Sprintf("%d.%d.%d-r0", 1+i%5, i%13, 1+i%7),
			Depends: []string{fmt.Sprintf("dep%d", i%50)},
		}
	}
	return reqs
}

// BenchmarkWriteRepository2000 measures Synthesize + WriteRepository for
// 1,000 requests, which is about 2,000 packages per arch (each request in
// two versions, plus base and invented packages), on two arches at Scale
// 0.001: about 4,100 signed .apk files.
func BenchmarkWriteRepository2000(b *testing.B) {
	key, err := GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	reqs := manyRequests(1000)
	if *warm {
		// Fill the key's signature memo, as a second run in a process would.
		if _, err := WriteRepository(context.Background(), b.TempDir(), key, Synthesize(SynthOptions{Requests: reqs, Scale: 0.001})); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		pkgs := Synthesize(SynthOptions{Requests: reqs, Scale: 0.001})
		b.ReportMetric(float64(len(pkgs)), "packages")
		if _, err := WriteRepository(context.Background(), b.TempDir(), key, pkgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is the RSA-2048 signature every package and index needs,
// without the key's memo.
func BenchmarkSign(b *testing.B) {
	key, err := GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 8)
	var n uint64
	for b.Loop() {
		n++
		binary.LittleEndian.PutUint64(msg, n) // a new message each time
		if _, err := key.sign(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildAPK builds a typical Scale 0.001 package (10 kB) with a
// fresh signature each time.
func BenchmarkBuildAPK(b *testing.B) {
	key, err := GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	bl := newBuilder()
	p := Package{Name: "tool", Version: "1.0.0-r0", Arch: "x86_64", Files: []File{
		{Path: "usr/bin/tool", Mode: 0o755, Size: 6000, Seed: 1},
		{Path: "usr/lib/libtool.so.1", Mode: 0o755, Size: 4000, Seed: 2},
	}}
	for i := 0; b.Loop(); i++ {
		p.Version = fmt.Sprintf("1.0.%d-r0", i) // a new control section each time
		if _, err := bl.build(p, key); err != nil {
			b.Fatal(err)
		}
	}
}
