// Package diff compares two compiled catalogs: what a change does to the
// images. It is pure: two maps of spec ref to compile.Image go in (the base
// and the head of a change), a Diff comes out, listing the specs added,
// removed and changed and, for each changed spec, the changed fields of its
// compiled form as keyed items (packages by name, env and annotations by key,
// paths by path, exceptions by rule, ...), so a version bump reads as one
// package changing rather than as a list reshuffled.
//
// Field names are the paths of the flat compiled JSON (compile.Marshal) with
// "config." and "config.contents." dropped: packages, tags, entrypoint,
// accounts.run-as, environment, metadata.version, policy.exceptions ... Any
// field of the compiled form without a dedicated rule is still compared, by
// its JSON path, so nothing the compiled form holds is left out of a diff.
//
// Given the locks hic build writes next to compiled specs, AddInstalled adds
// the changes in the packages the images really hold (fields
// "installed.ARCH"), unpinned and indirect packages included.
//
// The compiled form holds no advisories; given both sides' advisories and
// the packages each image installs (ImagePackages), AddVEX adds the changes
// of the OpenVEX statements each image's signed document would hold (field
// "vex", keyed "ID PACKAGE") and lists the changed advisories.
//
// The package renders a Diff as text, as Markdown for a pull-request comment,
// or as JSON (the Diff value itself). It knows nothing of git, files or the
// catalog: cmd/hic compiles the two sides and hands them over.
package diff
