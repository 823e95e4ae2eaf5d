package build

import (
	"runtime/debug"
	"testing"
)

func TestModuleVersion(t *testing.T) {
	tests := []struct {
		name string
		deps []*debug.Module
		want string
	}{
		{"linked", []*debug.Module{{Path: "cuelang.org/go", Version: "v0.17.1"}, {Path: apkoModule, Version: "v0.30.34"}}, "v0.30.34"},
		{"replaced", []*debug.Module{{Path: apkoModule, Version: "v0.30.34", Replace: &debug.Module{Path: "../apko", Version: "(devel)"}}}, "../apko@(devel)"},
		{"absent (test binaries)", nil, "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := moduleVersion(&debug.BuildInfo{Deps: tc.deps}, apkoModule); got != tc.want {
				t.Errorf("moduleVersion = %q, want %q", got, tc.want)
			}
		})
	}
}
