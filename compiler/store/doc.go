// Package store owns hic's output OCI image layout (default ./out/oci): one
// layout for the whole catalog, so layers shared between images are stored once.
//
// The store writes every blob of an image (to a temporary file, verified
// against its digest, fsynced, then renamed into blobs/) before it swaps
// index.json atomically, so a crash at any point leaves a valid layout; an
// index.json damaged otherwise (one that cannot be read or parsed) is
// refused with the way to recover (DamagedIndex), never rebuilt from the
// blobs. A flock on <dir>/.hic.lock keeps the writers (Open: build, gc)
// apart from each other and from the readers (LockShared, OpenReadOnly:
// publish, verify, ...), who share it. OpenReadOnly opens a layout to read
// it, writing nothing, even a read-only one.
//
// index.json has one entry per tag: the image index, annotated with
// org.opencontainers.image.ref.name = "repository:tag", dev.hic.spec.ref and
// dev.hic.input-digest. Referrers of an image (SBOMs, findings, attestations)
// are OCI 1.1 manifests with a subject, stored by the same Put and listed in
// index.json beside it with the same dev.hic.spec.ref and no ref name, so
// rebuilding a spec replaces its entries and its referrers together, in one
// index.json swap, without touching other specs. Nothing else may write the
// layout's index.json while a Store holds it (the lock says so to other
// processes).
//
// Files by job: store.go opens and closes the layout, lock.go holds the
// flock (exclusive or shared), index.go is Put and the index.json swap,
// query.go answers Has, Lookup, Records, Referrers and Blob, blobs.go writes
// blobs and builds every referrer manifest (NewArtifact), gc.go and
// validate.go collect and check.
//
// The store does not build, push or sign anything.
package store
