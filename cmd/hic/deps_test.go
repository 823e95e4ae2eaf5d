package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goList runs go list with args from the repository root and returns its
// output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

// TestLayering pins the shape of the pipeline: only the CLI drives the
// build (compiler/pipeline), and reading reports or verifying an image does
// not link the builder.
func TestLayering(t *testing.T) {
	const mod = "github.com/hic-build/hic/"
	// Nothing below cmd/ imports pipeline.
	for _, line := range goList(t, "-f", `{{.ImportPath}}:{{join .Imports ","}}`, "./compiler/...", "./schema/...") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Split(imports, ",") {
			if imp == mod+"compiler/pipeline" {
				t.Errorf("%s imports compiler/pipeline; only cmd/hic may", pkg)
			}
		}
	}
	// plan and verify link neither the builder nor any apko package: a
	// compiled spec is hic's own type (compile.Config), and APK version
	// order is compiler/apkversion's.
	builder := []string{mod + "compiler/pipeline", mod + "compiler/build", mod + "compiler/resolve"}
	for _, p := range []string{"plan", "verify"} {
		deps := goList(t, "-deps", "./compiler/"+p)
		if len(deps) == 0 {
			t.Fatalf("go list -deps ./compiler/%s listed nothing", p)
		}
		for _, d := range deps {
			if slices.Contains(builder, d) || strings.HasPrefix(d, "chainguard.dev/apko/") {
				t.Errorf("compiler/%s links %s", p, d)
			}
		}
	}
}

// TestSpecFlow keeps CONTRIBUTING.md's "How a spec flows" true: hic build
// makes one call into compiler/pipeline, which imports each stage it names.
func TestSpecFlow(t *testing.T) {
	const mod = "github.com/hic-build/hic/"
	imports := map[string]bool{}
	for _, imp := range goList(t, "-f", `{{join .Imports " "}}`, "./compiler/pipeline") {
		imports[imp] = true
	}
	for _, stage := range []string{"catalog", "plan", "attest", "resolve", "build", "inspect", "smoke", "store", "report", "publish"} {
		if !imports[mod+"compiler/"+stage] {
			t.Errorf("compiler/pipeline does not import compiler/%s, but CONTRIBUTING.md says the build flows through it", stage)
		}
	}
}
