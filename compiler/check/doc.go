// Package check applies the static hardening rules to specs: the rules on one
// spec (nonroot, no-shell, pinned-package, ...), the catalog-wide rules
// (unique-tags, unique-refs) and the validity of exceptions. It turns each
// violation into a finding positioned where the spec writes the offending
// value, with the rule's hint from the schema, and marks the findings an
// exception waives.
//
// Rules on the built filesystem live in compiler/inspect; schema errors come
// from compiler/load.
package check
