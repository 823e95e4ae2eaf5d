// Command gencatalog writes a synthetic catalog for the hic vet benchmark.
//
//	go run ./compiler/bench/cmd/gencatalog -out /tmp/catalog [-images 150 -streams 4]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hic-build/hic/compiler/bench"
)

func main() {
	o := bench.Default
	out := flag.String("out", "", "directory to write the catalog into (required)")
	flag.IntVar(&o.Images, "images", o.Images, "number of images")
	flag.IntVar(&o.Streams, "streams", o.Streams, "streams per image (each gives a runtime and a dev spec)")
	flag.Parse()
	if *out == "" || o.Images < 1 || o.Streams < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := bench.Generate(*out, o); err != nil {
		fmt.Fprintln(os.Stderr, "gencatalog:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d images, %d specs\n", *out, o.Images, o.Specs())
}
