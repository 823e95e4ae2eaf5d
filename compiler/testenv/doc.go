// Package testenv starts the real programs that hic's end-to-end tests run
// against: the distribution registry built by .ci/tools.sh, and a
// fault-injecting HTTP proxy placed in front of it. It owns the processes and
// listeners it starts and stops them at test cleanup; it does not build or
// install the tools (run .ci/tools.sh for that).
package testenv
