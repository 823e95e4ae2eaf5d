// Package pipeline owns the catalog build: it runs resolve, build, the
// post-build checks (compiler/inspect) and the store (compiler/store) for
// every spec on a bounded worker pool, skips specs whose input digest already
// has an image in the store, shows progress, and produces the build report.Report
// (out/report.json).
//
// Resolving and building are behind the small Builder interface, so the
// orchestration is tested with fake images; apko.go adapts compiler/resolve
// and compiler/build to it. Signing is an Attacher (attacher.go) whose
// referrers are stored in the same index.json swap as their image. The
// pipeline's loop does not parse specs or push: BuildCatalog (catalog.go) is
// hic build as one call, the front end before the loop and a
// publish.Publisher after it (--push wraps the build, it is not code of the
// command).
package pipeline
