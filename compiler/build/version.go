package build

import (
	"runtime/debug"
	"sync"
)

// apkoModule is the module path of apko.
const apkoModule = "chainguard.dev/apko"

// ApkoVersion returns the version of apko linked into this binary, from its
// build info ("v0.30.34"; a replaced module reports its replacement), or
// "unknown".
func ApkoVersion() string { return apkoVersion() }

var apkoVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return moduleVersion(bi, apkoModule)
})

// moduleVersion returns the version of module path in bi, or "unknown"
// (test binaries list no dependencies).
func moduleVersion(bi *debug.BuildInfo, path string) string {
	for _, d := range bi.Deps {
		if d.Path != path {
			continue
		}
		if d.Replace != nil {
			return d.Replace.Path + "@" + d.Replace.Version
		}
		return d.Version
	}
	return "unknown"
}
