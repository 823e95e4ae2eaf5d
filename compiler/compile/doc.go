// Package compile turns a Spec into a compiled Image: the apko image
// configuration plus tags, metadata and the hardening policy the built
// filesystem must meet. The configuration is a Config, hic's copy of the
// fields of apko's types.ImageConfiguration a spec sets, which marshals to
// the same JSON: compile does not import apko, so neither do hic verify and
// hic plan, which read compiled specs; compiler/resolve.ApkoConfig gives
// the build apko's type. Compile is a pure function: the same spec gives the
// same Image, byte for byte when marshalled with Marshal, which is the flat
// form written to out/compiled/ for auditors and PR diffs.
//
// It does not resolve packages (compiler/resolve) or build (compiler/build).
package compile
