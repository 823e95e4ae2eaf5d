// Package apkrepo generates signed, local APK repositories for tests,
// examples, demos and benchmarks, so that nothing in hic needs the network.
//
// It owns the APKv2 package format (BuildAPK), the repository layout with a
// signed APKINDEX.tar.gz per architecture (WriteRepository), the RSA signing
// keys apk-tools and apko expect (Key), and a synthetic but realistic package
// universe for Wolfi- and Alpine-like images (Synthesize). It does not resolve
// or install packages: that is apko's job, driven by the compiler.
//
// All output is deterministic: the same inputs and the same key give
// byte-identical files.
package apkrepo
