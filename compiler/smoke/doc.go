// Package smoke runs a spec's smoke tests (compile.Test: a command, the
// output it must print or the exit code it must give, an optional timeout)
// inside the built image's root filesystem under bubblewrap: as the image's
// run-as user, in new user, network, pid, ipc and uts namespaces (no
// network), on a read-only root with a private /tmp, a fresh /dev and /proc
// and an empty environment but the image's, with bounded time and output.
//
// A test that cannot run (no bwrap, a sandbox that cannot be set up, a
// platform the host cannot execute, an image whose layers cannot be
// extracted) is reported as not-run with the reason, never as passed.
// Results that printed apkrepo.SyntheticMarker ran on a generated mirror's
// synthetic executables and say so.
//
// A build makes its root filesystems through one LayerTrees: each layer is
// extracted once, checked against its diff ID, and shared by hard links
// among the images that hold it. A layer the build writes can be fed to
// the trees as its tar is written (Feed), so it is not extracted at all.
//
// The package extracts and runs; it does not build images or write reports.
package smoke
