package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/pipeline"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/verify"
	"github.com/hic-build/hic/compiler/vex"
)

const verifyLong = `Verify checks an image the way an auditor does, trusting only the public key
and the catalog. REF is a spec ref (nginx:1.31-wolfi-runtime) or an image ref
(nginx:1.31, nginx@sha256:...) in the OCI layout (--layout, default out/oci);
with --registry REGISTRY/PREFIX, a spec ref or repository:tag below it; or a
full registry reference (127.0.0.1:5000/hic/nginx:1.31; --registry - forces it).
A reference that is not one (a scheme, upper case in the repository, a bad
port, a full reference below --registry PREFIX) is a usage error, exit 2.
Signatures and attestations are read from the layout's referrers, or from the
registry's referrers API and cosign's sha256-<digest>.sig/.att tags.
A layout is read under its lock, shared, as hic publish reads it: a layout a
build or hic gc holds is refused (exit 2).

One line per check, exit status 1 if any fails:

  blobs                   every blob read (index, manifests, configs, layers,
                          referrers) hashes to its descriptor's digest and size
  image-signature         the index and every platform manifest carry a valid
                          signature by the key (cosign's simple signing)
  attestation-signatures  every attestation's DSSE envelope verifies with the key
  attestation-subjects    there are verified statements, and every one is about
                          the image it is attached to
  sbom                    every platform has a signed SPDX and CycloneDX SBOM, each
                          listing exactly the packages of the image's apk
                          database (/usr/lib/apk/db/installed)
  provenance-packages     the SLSA provenance's resolvedDependencies are exactly
                          the installed packages, with their checksums
  provenance-spec         the provenance names the spec, the digest of the spec
                          compiled from the catalog equals compiledSpecDigest,
                          the pinned main package is among the dependencies, and
                          the digest of the catalog's advisories about the
                          installed packages equals advisoriesDigest
  config                  every platform's image config (user, entrypoint, cmd,
                          env, workdir, exposed ports, stop signal, volumes,
                          labels) and the annotations are what the compiled spec says
  filesystem              the built-filesystem hardening rules (setuid, world-
                          writable, shell, package manager, run-as user,
                          entrypoint) pass again on the image's real layers
  hardening               the hardening report has no failing rule
  tag                     the tag names the image signed and built for it
  rebuild                 (--rebuild) rebuilding the spec from the catalog with
                          --mirrors gives the same index digest

The public key comes from --key or HIC_PUBLIC_KEY.

An unsigned image (hic build --unsigned; or one rejected by a post-build
check, kept unsigned) fails image-signature saying so, and the checks that
read signed statements fail as "not checked" for that one reason; when the
report.json next to the layout says the build ran with --unsigned, verify
prints that too. -o json says "unsigned": true.

` + registriesHelp

type verifyOptions struct {
	imageFlags
	key      string
	rebuild  bool
	format   string
	packages bool
	mirrors  string
	mirror   []string
}

func newVerifyCmd(root *rootOptions) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify REF [--key pub.pem] [--rebuild] [--layout out/oci | --registry REGISTRY/PREFIX] [--packages] [-o text|json]",
		Short: "Verify an image's signatures, attestations, SBOMs, provenance and hardening report",
		Long:  verifyLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, root, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.key, "key", "", "public key: a PKIX PEM file (hic.pub) or the PEM itself; env HIC_PUBLIC_KEY")
	f.BoolVar(&o.rebuild, "rebuild", false, "rebuild the spec from the catalog and compare digests")
	f.StringVarP(&o.format, "format", "o", "text", "output format: text or json")
	f.BoolVar(&o.packages, "packages", false, "also list the installed packages (name, version, platforms)")
	f.StringVar(&o.mirrors, "mirrors", "", "mirror root for --rebuild (see hic mirror)")
	f.StringArrayVar(&o.mirror, "mirror", nil, "map a catalog repository to a local directory for --rebuild: URL=DIR (repeatable)")
	o.imageFlags.addFlags(f)
	return cmd
}

// imageFlags say where verify and attestations read an image: an OCI
// layout, or a registry.
type imageFlags struct {
	layout   string
	registry string
	reg      registryFlags
}

func (o *imageFlags) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.layout, "layout", "out/oci", "OCI image layout to read")
	f.StringVar(&o.registry, "registry", "", "read from REGISTRY/PREFIX instead of the layout (\"-\": REF is a full registry reference)")
	o.reg.addFlags(f)
}

// check refuses --layout with --registry (one source is read, and neither
// may win unsaid), a --registry that is not REGISTRY/PREFIX, and a ref that
// is no registry reference where one is read from a registry (a full
// reference below --registry PREFIX, a scheme, upper case, a bad port),
// before anything is read: these are usage errors (exit 2), not failed
// verifications.
func (o *imageFlags) check(cmd *cobra.Command, ref string) error {
	if o.registry != "" && cmd.Flags().Changed("layout") {
		return excludeEachOther(cmd.Name(), "--layout", "--registry", "--layout reads an OCI layout, --registry a registry: drop one")
	}
	ro, err := o.reg.options()
	if err != nil {
		return err
	}
	if err := o.reg.unused(cmd.Name(), o.registry != "" || o.fullRef(cmd, ref),
		"the image is read from the layout "+o.layout+" (no --registry, and "+ref+" is no registry reference)", "add --registry REGISTRY/PREFIX"); err != nil {
		return err
	}
	switch {
	case o.fullRef(cmd, ref):
		if _, err := ro.ParseReference(ref); err != nil {
			return usageError("%s: %v", cmd.Name(), err)
		}
	case o.registry != "":
		d, err := o.reg.destination(cmd.Name()+": --registry", o.registry)
		if err != nil {
			return err
		}
		if host := d.Registry.Name() + "/"; strings.HasPrefix(ref, host) {
			below := strings.TrimPrefix(strings.TrimPrefix(ref, d.String()+"/"), host)
			return usageError("%s: %s is a full registry reference, but --registry %s takes a repository:tag below it: give %s, or --registry - for the full reference", cmd.Name(), ref, o.registry, below)
		}
		if _, err := ro.ParseReference(d.String() + "/" + ref); err != nil {
			return usageError("%s: %s below --registry %s: %v", cmd.Name(), ref, o.registry, err)
		}
	}
	return nil
}

// fullRef reports whether ref is read as a full registry reference: with
// --registry -, or when it starts with a registry host and neither --layout
// nor --registry is given.
func (o *imageFlags) fullRef(cmd *cobra.Command, ref string) bool {
	return o.registry == "-" || (o.registry == "" && !cmd.Flags().Changed("layout") && looksRemote(ref))
}

// source is where ref is read from and the ref to resolve there: the layout
// (--layout), REGISTRY/PREFIX (--registry; a spec ref becomes its full
// version tag) or, for a ref that starts with a registry host, the registry.
// A layout is read under its shared lock (lockForReading), which release
// lets go; release is never nil.
func (o *imageFlags) source(cmd *cobra.Command, cat *catalogSpecs, ref string) (src verify.Source, target string, release func(), err error) {
	none := func() {}
	ro, err := o.reg.options()
	if err != nil {
		return nil, "", none, err
	}
	switch {
	case o.fullRef(cmd, ref):
		return &verify.Registry{NameOptions: ro.NameOptions(ref)}, ref, none, nil
	case o.registry != "":
		src := &verify.Registry{Prefix: o.registry, NameOptions: ro.NameOptions(o.registry)}
		// A spec ref is not a registry tag: name the spec's own full-version
		// tag, which no other stream can take over (aliases and latest move).
		if img, err := cat.compiled(cmd.Context(), ref); err == nil && img.Ref == ref && len(img.Tags) > 0 {
			return src, img.Repository + ":" + versionTag(img), none, nil
		}
		return src, ref, none, nil
	}
	if fi, err := os.Stat(o.layout); err != nil || !fi.IsDir() {
		return nil, "", none, usageError("%s: --layout %s is not a directory", cmd.Name(), o.layout)
	}
	lock, err := lockForReading(cmd.Name(), o.layout)
	if err != nil {
		return nil, "", none, err
	}
	return verify.Layout{Path: layout.Path(o.layout)}, ref, func() { lock.Release() }, nil
}

// loadVerifier loads the public key of --key, else HIC_PUBLIC_KEY.
func loadVerifier(root *rootOptions, command, key string) (*sign.Verifier, error) {
	if key == "" {
		key = root.getenv("HIC_PUBLIC_KEY")
	}
	if key == "" {
		return nil, usageError("%s: no public key: pass --key PATH (or set HIC_PUBLIC_KEY)", command)
	}
	v, err := sign.LoadVerifierFrom(key)
	if err != nil {
		return nil, usageError("%s: %v", command, err)
	}
	return v, nil
}

func (o *verifyOptions) run(cmd *cobra.Command, root *rootOptions, ref string) error {
	if err := o.imageFlags.check(cmd, ref); err != nil {
		return err
	}
	if !o.rebuild && (o.mirrors != "" || len(o.mirror) > 0) {
		flag := "--mirrors"
		if o.mirrors == "" {
			flag = "--mirror"
		}
		return usageError("verify: %s is for --rebuild, which is not given: add --rebuild to rebuild the spec from the mirror, or drop %s", flag, flag)
	}
	if err := checkFormat(o.format, formatText, formatJSON); err != nil {
		return usageError("%v", err)
	}
	v, err := loadVerifier(root, "verify", o.key)
	if err != nil {
		return err
	}
	// Four checks compare the image with its spec and the catalog's
	// advisories: without a catalog they could only fail.
	if _, err := catalog.FindRoot(root.catalog); err != nil {
		return usageError("verify: no catalog: %v (verify compares the image with the catalog it was built from: pass -C DIR or set HIC_CATALOG)", err)
	}
	cat := &catalogSpecs{root: root, cmd: cmd}
	src, target, release, err := o.imageFlags.source(cmd, cat, ref)
	if err != nil {
		return err
	}
	defer release()
	opts := verify.Options{Verifier: v, Compiled: cat.compiled, Advisories: cat.advisories, Packages: o.packages}
	if o.rebuild {
		bo := &buildOptions{mirrors: o.mirrors, mirror: o.mirror}
		mirrors, err := bo.mirrorList()
		if err != nil {
			return err
		}
		opts.Rebuild = func(ctx context.Context, img compile.Image) (v1.Hash, error) {
			return rebuild(ctx, img, mirrors)
		}
	}
	res, err := verify.Verify(cmd.Context(), src, target, opts)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		if errors.Is(err, verify.ErrNoImage) || errors.Is(err, verify.ErrBadReference) {
			return usageError("verify: %v", err)
		}
		return &exitError{code: exitFindings, err: fmt.Errorf("verify: %w", err)}
	}
	res.Ref = ref
	note := ""
	if _, ok := src.(verify.Layout); ok && res.Unsigned {
		note = unsignedBuild(o.layout, res.Digest)
	}
	if err := writeVerifyResult(cmd.OutOrStdout(), res, o.format, note); err != nil {
		return err
	}
	if !res.OK {
		return &exitError{code: exitFindings}
	}
	return nil
}

// looksRemote reports whether ref starts with a registry host
// ("127.0.0.1:5000/hic/nginx:1.31", "ghcr.io/org/nginx:1.31"); catalog refs
// have no "/".
func looksRemote(ref string) bool {
	host, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(host, ".:") || host == "localhost")
}

// catalogSpecs compiles specs from the catalog on first use (no end-of-life
// refusal: verifying an old image is still possible).
type catalogSpecs struct {
	root *rootOptions
	cmd  *cobra.Command

	once  sync.Once
	specs []*spec.Spec
	err   error

	advOnce sync.Once
	adv     *vex.Advisories
	advErr  error
}

func (c *catalogSpecs) compiled(ctx context.Context, ref string) (*compile.Image, error) {
	c.once.Do(func() {
		r, err := catalog.FindRoot(c.root.catalog)
		if err != nil {
			c.err = err
			return
		}
		l, err := c.root.loadAndCheck(ctx, r, time.Now().UTC())
		if err != nil {
			c.err = err
			return
		}
		c.specs = l.catalog.Specs
	})
	if c.err != nil {
		return nil, fmt.Errorf("catalog %s: %w", c.root.catalog, c.err)
	}
	for _, s := range c.specs {
		if s.Ref == ref {
			img, err := compile.Compile(s)
			if err != nil {
				return nil, err
			}
			return &img, nil
		}
	}
	return nil, fmt.Errorf("catalog %s has no spec %s", c.root.catalog, ref)
}

// rebuild builds img from the catalog's repositories (or mirrors) in a
// temporary directory and returns the index digest.
func rebuild(ctx context.Context, img compile.Image, mirrors []resolve.Mirror) (v1.Hash, error) {
	tmp, err := os.MkdirTemp("", "hic-verify-rebuild-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer os.RemoveAll(tmp)
	b := pipeline.ApkoBuilder{Mirrors: mirrors, CacheDir: filepath.Join(tmp, "cache"), TempDir: tmp}
	lock, err := b.Resolve(ctx, img)
	if err != nil {
		return v1.Hash{}, err
	}
	built, err := b.Build(ctx, img, lock)
	if err != nil {
		return v1.Hash{}, err
	}
	return built.Index.Digest()
}

// versionTag is the tag of img that names its full version ("1.31.4",
// "1.31.4-alpine3.23-dev"), else its first tag.
func versionTag(img *compile.Image) string {
	for _, t := range img.Tags {
		if v := img.Metadata.Version; v != "" && strings.HasPrefix(t, v) {
			return t
		}
	}
	return img.Tags[0]
}

// advisories are the catalog's vulnerability advisories, for the
// provenance-spec and vex checks, loaded once.
func (c *catalogSpecs) advisories(ctx context.Context) (*vex.Advisories, error) {
	c.advOnce.Do(func() {
		r, err := catalog.FindRoot(c.root.catalog)
		if err != nil {
			c.advErr = err
			return
		}
		c.adv, _, c.advErr = vex.Load(ctx, r)
	})
	return c.adv, c.advErr
}

// unsignedBuild is the line verify prints for an unsigned image (digest) of
// the layout at dir when the build report next to it (OUT/report.json for
// OUT/oci) says the build that made it ran with --unsigned; "" otherwise.
func unsignedBuild(dir, digest string) string {
	p := filepath.Join(filepath.Dir(filepath.Clean(dir)), "report.json")
	r, err := report.ReadReport(p)
	if err != nil || r.Signed {
		return ""
	}
	for _, s := range r.Specs {
		if s.ImageDigest == digest {
			return fmt.Sprintf("unsigned: built with --unsigned (%s says \"signed\": false, for %s); build with --key to sign it", p, s.Ref)
		}
	}
	return ""
}

// writeVerifyResult prints a verification: JSON, or one line per check (a
// failed check's further problems on lines of their own), the signer (or
// note, why the image is unsigned), the waived rules with their reasons, the
// packages if listed, and the verdict.
func writeVerifyResult(w io.Writer, res *verify.Result, format, note string) error {
	if format == "json" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	fmt.Fprintf(w, "%s  %s  spec %s\n", res.Ref, res.Digest, res.Spec)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range res.Checks {
		status, lines := "ok", []string{c.Detail}
		if !c.OK {
			status = "FAIL"
			if len(c.Problems) > 0 {
				lines = c.Problems
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", status, c.Name, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t%s\n", l)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.Signer != nil {
		fmt.Fprintf(w, "signed by key %s (fingerprint %s)\n", res.Signer.KeyID, res.Signer.Fingerprint)
	}
	if note != "" {
		fmt.Fprintln(w, note)
	}
	if len(res.Waived) > 0 {
		fmt.Fprintf(w, "waived rules (%d):\n", len(res.Waived))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, x := range res.Waived {
			fmt.Fprintf(tw, "  %s\t%s\n", x.Rule, x.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if res.Packages != nil {
		fmt.Fprintf(w, "packages (%d):\n", len(res.Packages))
		all := platformsOf(res.Packages)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range res.Packages {
			on := ""
			if len(p.Platforms) < all {
				on = "only " + strings.Join(p.Platforms, ", ")
			}
			if on == "" {
				fmt.Fprintf(tw, "  %s\t%s\n", p.Name, p.Version)
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Name, p.Version, on)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if res.Synthetic {
		fmt.Fprintln(w, "synthetic: the signed hardening report says this image was built from a generated mirror (hic mirror): its packages have synthetic contents, so it is not a real image of its distro")
	}
	if res.OK {
		fmt.Fprintf(w, "verified: %s passed\n", count(len(res.Checks), "check"))
	} else {
		fmt.Fprintf(w, "NOT verified: %s failed\n", strings.Join(res.Failed(), ", "))
	}
	return nil
}

// platformsOf counts the platforms the packages are installed on.
func platformsOf(ps []verify.Package) int {
	seen := map[string]bool{}
	for _, p := range ps {
		for _, pl := range p.Platforms {
			seen[pl] = true
		}
	}
	return len(seen)
}
