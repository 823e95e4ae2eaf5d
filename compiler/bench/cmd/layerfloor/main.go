// Command layerfloor measures the floor of a catalog build: the CPU time to
// compress each unique layer once, as apko compresses layers (pgzip at its
// default level, 1 MiB blocks), and hash it (sha256 of the tar and of the
// compressed bytes). It reads the unique layers from a hic layer cache
// (CACHE/layers/blobs/sha256), decompresses them to temporary files first
// (not measured), then measures the compression and hashing alone.
//
//	go run ./compiler/bench/cmd/layerfloor -cache OUT/cache/layers
package main

import (
	"compress/gzip"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/klauspost/pgzip"
)

func main() {
	cache := flag.String("cache", "", "hic layer cache directory")
	flag.Parse()
	if err := run(*cache); err != nil {
		fmt.Fprintln(os.Stderr, "layerfloor:", err)
		os.Exit(1)
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(cache string) error {
	blobs, err := filepath.Glob(filepath.Join(cache, "blobs", "sha256", "*"))
	if err != nil {
		return err
	}
	if len(blobs) == 0 {
		return fmt.Errorf("no layers in %s", cache)
	}
	tmp, err := os.MkdirTemp("", "layerfloor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var tars []string
	var uncompressed, compressedIn int64
	for i, b := range blobs {
		in, err := os.Open(b)
		if err != nil {
			return err
		}
		fi, _ := in.Stat()
		compressedIn += fi.Size()
		zr, err := gzip.NewReader(in)
		if err != nil {
			in.Close()
			return fmt.Errorf("%s: %w", b, err)
		}
		p := filepath.Join(tmp, fmt.Sprint(i))
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		n, err := io.Copy(out, zr)
		in.Close()
		out.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		uncompressed += n
		tars = append(tars, p)
	}
	start, c0 := time.Now(), cpu()
	var compressed int64
	for _, p := range tars {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		diffID := sha256.New()
		digest := sha256.New()
		cw := &counter{w: digest}
		zw := pgzip.NewWriter(cw)
		if err := zw.SetConcurrency(1<<20, min(runtime.GOMAXPROCS(0), 8)); err != nil {
			return err
		}
		if _, err := io.Copy(io.MultiWriter(zw, diffID), f); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		f.Close()
		compressed += cw.n
		_ = digest.Sum(nil)
		_ = diffID.Sum(nil)
	}
	wall, used := time.Since(start), cpu()-c0
	fmt.Printf("floor: %d unique layers, %.2f GB uncompressed (%.2f GB compressed, cache held %.2f GB): compress+sha256 CPU %.1f s, wall %.1f s\n",
		len(tars), float64(uncompressed)/1e9, float64(compressed)/1e9, float64(compressedIn)/1e9, used.Seconds(), wall.Seconds())
	return nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
