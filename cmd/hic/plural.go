package main

import (
	"fmt"
	"strings"
)

// count is "1 spec", "2 specs", "0 specs": n and the noun, plural unless n
// is 1. Every noun hic counts takes a plain -s.
func count(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// selectionError is the usage error of a command taking spec refs or --all
// when it gets both or neither; nil when the selection is fine.
func selectionError(command string, all bool, refs []string) error {
	switch {
	case all && len(refs) > 0:
		return usageError("%s: --all selects every spec, so it takes no REF (%s): drop --all to %s only those, or drop the refs", command, strings.Join(refs, " "), command)
	case !all && len(refs) == 0:
		return usageError("%s: nothing to %s: name specs (hic %s nginx, hic %s nginx:1.31-wolfi-runtime) or pass --all", command, command, command, command)
	}
	return nil
}
