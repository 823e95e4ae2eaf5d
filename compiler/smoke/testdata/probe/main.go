// Command probe is the program the smoke tests run inside the sandbox:
// each argument asks it to try one thing and report what happened.
package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("probe: want a command")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "--version":
		fmt.Println("probe 1.2.3")
	case "id":
		fmt.Printf("uid=%d gid=%d\n", os.Getuid(), os.Getgid())
	case "net":
		c, err := net.DialTimeout("tcp", os.Args[2], 2*time.Second)
		if err != nil {
			fmt.Println("net:", err)
			os.Exit(1)
		}
		c.Close()
		fmt.Println("net: connected")
	case "write":
		if err := os.WriteFile(os.Args[2], []byte("x"), 0o644); err != nil {
			fmt.Println("write:", err)
			os.Exit(1)
		}
		fmt.Println("write: ok")
	case "read":
		b, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Println("read:", err)
			os.Exit(1)
		}
		fmt.Printf("read: %d bytes\n", len(b))
	case "env":
		fmt.Println(strings.Join(os.Environ(), "\n"))
	case "sleep":
		time.Sleep(time.Hour)
	case "spam":
		for {
			fmt.Println(strings.Repeat("y", 100))
		}
	case "exit":
		fmt.Println("exiting 3")
		os.Exit(3)
	}
}
