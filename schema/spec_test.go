package schema

import (
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
)

// TestSpecsMatchSpecDefinition checks that what #expand derives has exactly
// the shape #Spec documents (closed: no field more, none missing), for an
// image that uses every optional field.
func TestSpecsMatchSpecDefinition(t *testing.T) {
	ctx := cuecontext.New()
	v, err := Evaluate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img := ctx.CompileString(`{
	title: "Demo", description: "A demo image for the schema test.", homepage: "https://example.org"
	source: "https://example.org/src", license: "Apache-2.0", categories: ["application"]
	package: "demo", packages: ["zlib"], distros: ["wolfi", "alpine-3.23"]
	streams: {
		"1": {version: "1.2.3-r0", released: "2025-01-01", eol: "2027-01-01", latest: true, aliases: ["stable"],
			versions: {"alpine-3.23": "1.2.3-r1"}, exceptions: [{rule: "end-of-life", reason: "test"}]}
	}
	entrypoint: ["/usr/bin/demo"], cmd: ["serve"], workdir: "/data", env: {MODE: "prod"}
	ports: ["8080/tcp"], volumes: ["/data"], paths: [{path: "/data", mode: 0o700}], stopSignal: "SIGTERM"
	exceptions: [{rule: "nonroot", reason: "test"}], runAsRoot: true
	tests: [{name: "version", command: ["/usr/bin/demo", "--version"], expect: "1.2.3"}]
}`)
	if err := img.Err(); err != nil {
		t.Fatal(err)
	}
	images := v.LookupPath(cue.ParsePath(ImagesPath)).FillPath(cue.MakePath(cue.Str("demo")), img)
	specs := images.LookupPath(cue.MakePath(cue.Str("demo"), cue.Str(SpecsField)))
	it, err := specs.Fields()
	if err != nil {
		t.Fatal(err)
	}
	def := v.LookupPath(cue.MakePath(cue.Def("#Spec")))
	n := 0
	for it.Next() {
		n++
		if err := def.Unify(it.Value()).Validate(cue.Concrete(true)); err != nil {
			t.Errorf("%s does not match #Spec: %v", it.Selector(), err)
		}
	}
	if n != 4 {
		t.Errorf("got %d specs, want 4 (2 distros x 2 variants)", n)
	}
}
