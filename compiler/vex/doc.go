// Package vex owns the catalog's vulnerability advisories and the OpenVEX
// documents made from them. Advisories are catalog data (the advisories/
// folder of the catalog, schema/advisories.cue): per package, a vulnerability
// id, an OpenVEX status, a justification, a fixed version and timestamps.
// Load reads them with their source positions, Check vets them (hic vet), and
// Document turns the advisories that concern the packages an image really
// contains into the image's OpenVEX document, which compiler/attest signs as
// an in-toto statement of predicate type PredicateType.
//
// The package does not sign, store or verify; it does not read images.
package vex
