package main

import "fmt"

// count is "1 spec", "2 specs", "0 specs": n and the noun, plural unless n
// is 1. Every noun hic counts takes a plain -s.
func count(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
