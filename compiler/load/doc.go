// Package load turns a catalog directory of CUE files into typed specs.
//
// It owns finding the catalog's files, overlaying the embedded schema onto
// them, evaluating each image folder as its own CUE instance (in parallel,
// with a bounded number of instances per cue.Context so memory stays flat),
// and decoding the derived specs into spec.Spec values that know where each
// of their fields is written. CUE syntax and schema errors become findings
// (rules "cue-syntax" and "schema") at the file:line:col of the catalog
// source, phrased as what the schema expected and what the spec has. It
// also judges where each file lies against what it declares (rule
// "catalog-layout": an image is declared in NAME/NAME.cue, alone, and
// nowhere else).
//
// It does not judge hardening: that is compiler/check.
package load
