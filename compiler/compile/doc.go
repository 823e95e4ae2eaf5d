// Package compile turns a Spec into a compiled Image: the apko
// ImageConfiguration plus tags, metadata and the hardening policy the built
// filesystem must meet. Compile is a pure function: the same spec gives the
// same Image, byte for byte when marshalled with Marshal, which is the flat
// form written to out/compiled/ for auditors and PR diffs.
//
// It does not resolve packages (compiler/resolve) or build (compiler/build).
package compile
