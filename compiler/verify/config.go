package verify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/shlex"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/inspect"
)

// Names of the checks that compare the image with its compiled spec.
const (
	CheckConfig     = "config"
	CheckFilesystem = "filesystem"
)

// apkoDefaultEnv are the variables apko sets when the spec does not.
var apkoDefaultEnv = map[string]string{
	"PATH":          "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin",
	"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
}

// addedAnnotations are the annotations (and labels) the build adds to the
// spec's own: the creation time.
const annotationCreated = "org.opencontainers.image.created"

// wantConfig is the OCI config the compiled spec asks for.
type wantConfig struct {
	User, WorkingDir, StopSignal string
	Entrypoint, Cmd              []string
	Env                          []string
	ExposedPorts                 []string
	Volumes                      []string
	Labels                       map[string]string
}

func wantConfigOf(img *compile.Image) (wantConfig, error) {
	c := img.Config
	w := wantConfig{User: c.Accounts.RunAs, WorkingDir: c.WorkDir, StopSignal: c.StopSignal, Labels: maps.Clone(c.Annotations)}
	var err error
	if c.Entrypoint.Command != "" {
		if w.Entrypoint, err = shlex.Split(c.Entrypoint.Command); err != nil {
			return w, fmt.Errorf("entrypoint %q: %w", c.Entrypoint.Command, err)
		}
	}
	if c.Cmd != "" {
		if w.Cmd, err = shlex.Split(c.Cmd); err != nil {
			return w, fmt.Errorf("cmd %q: %w", c.Cmd, err)
		}
	}
	env := maps.Clone(c.Environment)
	if env == nil {
		env = map[string]string{}
	}
	for k, v := range apkoDefaultEnv {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	for k, v := range env {
		w.Env = append(w.Env, k+"="+v)
	}
	sort.Strings(w.Env)
	w.ExposedPorts = slices.Sorted(slices.Values(img.Ports))
	w.Volumes = slices.Sorted(slices.Values(c.Volumes))
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	return w, nil
}

// config: every platform's image config (and the index's and manifests'
// annotations) is what the compiled spec says, field by field.
func (v *verification) config(ctx context.Context) Check {
	return checkConfig(v.t.Index, v.plats, v.claimedCompiled(ctx))
}

// filesystem: the built-filesystem rules pass on every platform's layers.
func (v *verification) filesystem(ctx context.Context) Check {
	return checkFilesystem(ctx, v.plats, v.claimedCompiled(ctx), func(h v1.Hash) []*attest.Statement {
		return v.statements(h, attest.PredicateSPDX)
	})
}

// claimedCompiled is the compiled spec the provenance names (set by
// provenanceSpec) or, with no readable provenance, the one the ref or the
// image's annotations claim (the tag check judges whether that claim holds).
func (v *verification) claimedCompiled(ctx context.Context) *compile.Image {
	if v.compiled != nil || v.opts.Compiled == nil {
		return v.compiled
	}
	if ref := claimedSpec(v.t); ref != "" {
		if img, err := v.opts.Compiled(ctx, ref); err == nil {
			return img
		}
	}
	return nil
}

// checkConfig compares every platform's image config (and the index's and
// manifests' annotations) with the compiled spec, field by field.
func checkConfig(idx v1.ImageIndex, plats []*platformImage, img *compile.Image) Check {
	if img == nil {
		return Check{Name: CheckConfig, Detail: "no compiled spec to compare the image config with"}
	}
	want, err := wantConfigOf(img)
	if err != nil {
		return Check{Name: CheckConfig, Detail: fmt.Sprintf("compiled spec %s: %v", img.Ref, err)}
	}
	var bad []string
	if im, err := idx.IndexManifest(); err != nil {
		bad = append(bad, fmt.Sprintf("index: %v", err))
	} else {
		bad = append(bad, diffLabels("index annotation", im.Annotations, want.Labels)...)
	}
	for _, p := range plats {
		if p.img == nil {
			bad = append(bad, fmt.Sprintf("%s: no image", p.platform))
			continue
		}
		if m, err := p.img.Manifest(); err != nil {
			bad = append(bad, fmt.Sprintf("%s manifest: %v", p.platform, err))
		} else {
			for _, s := range diffLabels("manifest annotation", m.Annotations, want.Labels) {
				bad = append(bad, p.platform+": "+s)
			}
		}
		cf, err := p.img.ConfigFile()
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s config: %v", p.platform, err))
			continue
		}
		c := cf.Config
		field := func(name string, got, want any) {
			bad = append(bad, fmt.Sprintf("%s config %s is %s, the spec says %s", p.platform, name, show(got), show(want)))
		}
		if c.User != want.User {
			field("User", c.User, want.User)
		}
		if !slices.Equal(c.Entrypoint, want.Entrypoint) {
			field("Entrypoint", c.Entrypoint, want.Entrypoint)
		}
		if !slices.Equal(c.Cmd, want.Cmd) {
			field("Cmd", c.Cmd, want.Cmd)
		}
		if env := slices.Sorted(slices.Values(c.Env)); !slices.Equal(env, want.Env) {
			field("Env", env, want.Env)
		}
		if c.WorkingDir != want.WorkingDir {
			field("WorkingDir", c.WorkingDir, want.WorkingDir)
		}
		if c.StopSignal != want.StopSignal {
			field("StopSignal", c.StopSignal, want.StopSignal)
		}
		if ports := slices.Sorted(maps.Keys(c.ExposedPorts)); !slices.Equal(ports, want.ExposedPorts) {
			field("ExposedPorts", ports, want.ExposedPorts)
		}
		if vols := slices.Sorted(maps.Keys(c.Volumes)); !slices.Equal(vols, want.Volumes) {
			field("Volumes", vols, want.Volumes)
		}
		for _, s := range diffLabels("config label", c.Labels, want.Labels) {
			bad = append(bad, p.platform+": "+s)
		}
		if c.Healthcheck != nil || len(c.OnBuild) > 0 || len(c.Shell) > 0 {
			bad = append(bad, fmt.Sprintf("%s config has fields no spec sets (Healthcheck, OnBuild or Shell)", p.platform))
		}
	}
	if len(bad) > 0 {
		return Check{Name: CheckConfig, Detail: strings.Join(bad, "; ")}
	}
	return Check{Name: CheckConfig, OK: true, Detail: fmt.Sprintf("the config of %d platforms matches spec %s (user %s, entrypoint, cmd, %d env, workdir, ports, stop signal, volumes, %d labels)", len(plats), img.Ref, show(want.User), len(want.Env), len(want.Labels))}
}

// diffLabels compares annotations or labels with the spec's: the same keys
// and values, plus a creation time.
func diffLabels(what string, got, want map[string]string) []string {
	var bad []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s %s is missing, the spec says %q", what, k, want[k]))
		case g != want[k]:
			bad = append(bad, fmt.Sprintf("%s %s is %q, the spec says %q", what, k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; ok {
			continue
		}
		if k == annotationCreated {
			if _, err := time.Parse(time.RFC3339, got[k]); err != nil {
				bad = append(bad, fmt.Sprintf("%s %s is %q, not a time", what, k, got[k]))
			}
			continue
		}
		bad = append(bad, fmt.Sprintf("%s %s=%q is not in the spec", what, k, got[k]))
	}
	return bad
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []string:
		if len(x) == 0 {
			return "empty"
		}
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, " ") + "]"
	}
	return fmt.Sprint(v)
}

// checkFilesystem runs the built-filesystem hardening rules again on every
// platform's real layers, against the compiled spec's policy and the signed
// SPDX SBOM. A failing, unwaived finding fails the check; fs-sbom is left to
// the sbom check, which compares every SBOM with the apk database.
func checkFilesystem(ctx context.Context, plats []*platformImage, img *compile.Image, spdx func(v1.Hash) []*attest.Statement) Check {
	if img == nil {
		return Check{Name: CheckFilesystem, Detail: "no compiled spec to check the filesystem against"}
	}
	var bad []string
	rules, waived := 0, 0
	for _, p := range plats {
		if p.fs == nil {
			bad = append(bad, fmt.Sprintf("%s: layers: %v", p.platform, p.dbErr))
			continue
		}
		var pkgs []inspect.Package
		if sts := spdx(p.digest); len(sts) > 0 {
			var err error
			if pkgs, err = inspect.SBOMPackages(sts[0].Predicate); err != nil {
				bad = append(bad, fmt.Sprintf("%s: SPDX: %v", p.platform, err))
			}
		}
		fs, err := inspect.Check(ctx, inspect.Input{Image: *img, Platform: p.platform, FS: p.fs, SBOM: pkgs})
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		for _, f := range fs {
			switch {
			case f.Rule == inspect.RuleSBOM:
				// The sbom check compares both SBOMs with the apk database.
			case f.Failing():
				bad = append(bad, f.Rule+": "+f.Message)
			case f.Waived:
				waived++
			}
		}
		rules = len(inspect.Rules()) - 1
	}
	if len(bad) > 0 {
		return Check{Name: CheckFilesystem, Detail: strings.Join(bad, "; ")}
	}
	return Check{Name: CheckFilesystem, OK: true, Detail: fmt.Sprintf("%d built-filesystem rules pass on the layers of %d platforms (%d findings waived)", rules, len(plats), waived)}
}
