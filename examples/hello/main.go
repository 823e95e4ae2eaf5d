// Command hello is the program of the example image (examples/catalog/hello):
// a static Go binary that greets you with the uid it runs as and the
// architecture it was built for, so a run inside the image shows both the
// nonroot user and the platform.
//
// Build it the way the example repository does:
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o hello ./examples/hello
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	name := "world"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	fmt.Printf("Hello, %s! I am a hic image running as uid=%d gid=%d on %s/%s.\n",
		name, os.Getuid(), os.Getgid(), runtime.GOOS, runtime.GOARCH)
}
