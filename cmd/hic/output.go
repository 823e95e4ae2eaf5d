package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Output formats. Every command that prints data takes -o/--format with
// these names: text (the default, for people; tables included) and json
// (for machines), plus command-specific ones (vet's github, diff's markdown,
// show's yaml, plan's buildkite).
const (
	formatText      = "text"
	formatJSON      = "json"
	formatBuildkite = "buildkite"
)

// checkFormat refuses a --format value not among want.
func checkFormat(got string, want ...string) error {
	if slices.Contains(want, got) {
		return nil
	}
	return fmt.Errorf("--format %q: want %s", got, orList(want))
}

// orList is "a", "a or b", "a, b or c".
func orList(ss []string) string {
	if len(ss) < 2 {
		return strings.Join(ss, "")
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " or " + ss[len(ss)-1]
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
