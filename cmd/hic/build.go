package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/chainguard-dev/clog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/mirror"
	"github.com/hic-build/hic/compiler/pipeline"
	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/sign"
)

// version is hic's version; it feeds every input digest.
const version = "0.1.0"

type buildOptions struct {
	format   string // -o json: the build report on stdout instead of the summary
	all      bool
	out      string
	mirrors  string
	mirror   []string
	jobs     int
	cacheDir string
	today    string
	signing  signingFlags
	shard    shardFlags
	// cacheFrom is the registry asked for specs the layout lacks
	// (default: the --push target); noCacheFrom turns that off.
	cacheFrom   string
	noCacheFrom bool
	// cacheKey is the public key (path or PEM) the registry cache's images
	// must be signed with; default: the build's own key.
	cacheKey string
}

// conflicts refuses the flags that ask for opposite things, before anything
// is read.
func (o *buildOptions) conflicts() error {
	switch {
	case o.signing.key != "" && o.signing.unsigned:
		return excludeEachOther("build", "--key", "--unsigned", "drop --unsigned to sign with the key, or --key for an unsigned build")
	case o.cacheFrom != "" && o.noCacheFrom:
		return excludeEachOther("build", "--cache-from", "--no-cache-from", "drop --no-cache-from to skip the specs whose image "+o.cacheFrom+" holds, or --cache-from to ask no registry")
	case o.cacheKey != "" && o.noCacheFrom:
		return excludeEachOther("build", "--cache-key", "--no-cache-from", "--cache-key checks the registry cache's images, which --no-cache-from turns off: drop one")
	}
	if err := o.signing.registry.unused("build", o.signing.pushTo != "" || o.cacheFrom != "",
		"no registry is spoken to without --push or --cache-from", "add --push REGISTRY/PREFIX"); err != nil {
		return err
	}
	return o.overlaps()
}

// overlaps refuses directories given to build that lie in each other: --out
// in a mirror (--mirrors, --mirror DIR), where the build would write its
// layout, report and cache into the mirror, or a mirror in what the build
// writes under --out (oci/, compiled/, the cache); and --cache-dir in a mirror or in
// the OCI layout (OUT/oci), where apko's cache would be published with the
// images. Nothing is read or written before.
func (o *buildOptions) overlaps() error {
	type dir struct{ flag, path string }
	var mirrors []dir
	if o.mirrors != "" {
		mirrors = append(mirrors, dir{"--mirrors", o.mirrors})
	}
	for _, m := range o.mirror {
		if url, d, ok := strings.Cut(m, "="); ok && url != "" && d != "" {
			mirrors = append(mirrors, dir{"--mirror", d})
		}
	}
	out := dir{"--out", o.out}
	given := append([]dir{out}, mirrors...)
	if o.cacheDir != "" {
		given = append(given, dir{"--cache-dir", o.cacheDir})
	}
	for _, d := range given {
		if err := directoryOrMissing(d.flag, d.path); err != nil {
			return err
		}
	}
	cacheDir := o.cacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(o.out, "cache")
	}
	written := []dir{
		{"the OCI layout", filepath.Join(o.out, "oci")},
		{"the compiled specs", filepath.Join(o.out, "compiled")},
		{"the cache", cacheDir},
	}
	for _, m := range mirrors {
		if err := apart("build", out, m, "the build would write its layout, report and cache into the mirror", "give --out a directory of its own"); err != nil {
			return err
		}
		// OUT/mirror, where make demo and the README put it, is fine: the
		// build writes and replaces only these.
		for _, w := range written {
			if err := apart("build", m, w, "the build writes and replaces what is there", "keep the mirror outside it (OUT/mirror is fine)"); err != nil {
				return err
			}
		}
	}
	if o.cacheDir == "" {
		return nil
	}
	cache := dir{"--cache-dir", o.cacheDir}
	layout := dir{"the OCI layout", filepath.Join(o.out, "oci")}
	if err := apart("build", cache, layout, "apko's cache would be published with the images", "give a directory outside it (the default is "+filepath.Join(o.out, "cache")+")"); err != nil {
		return err
	}
	for _, m := range mirrors {
		if err := apart("build", cache, m, "apko's cache would be written into the mirror", "give a directory outside it"); err != nil {
			return err
		}
	}
	return nil
}

// directoryOrMissing is the usage error for a directory flag naming a
// file, or a path below a file: it is named by its own flag, before a
// check of two directories blames the other one.
func directoryOrMissing(flag, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.IsDir():
		return usageError("build: %s %s is a file, not a directory: give a directory", flag, path)
	case errors.Is(err, syscall.ENOTDIR):
		return usageError("build: %s %s: a part of the path is a file, not a directory: give a directory", flag, path)
	}
	return nil
}

// apart is the usage error of command when directory a is b or lies inside
// it (symlinks resolved): it names both, says why (what) and what to do.
func apart(command string, a, b struct{ flag, path string }, what, do string) error {
	in, err := fsutil.Within(a.path, b.path)
	if err != nil {
		return usageError("%s: %s %s: %v", command, a.flag, a.path, err)
	}
	if !in {
		return nil
	}
	rel := "is inside"
	if same, _ := fsutil.Within(b.path, a.path); same {
		rel = "is the same directory as"
	}
	return usageError("%s: %s %s %s %s %s: %s; %s", command, a.flag, a.path, rel, b.flag, b.path, what, do)
}

// destinations parses --push and --cache-from, before anything is read:
// push is nil without --push, cache nil without a registry cache (see
// remoteCache).
func (o *buildOptions) destinations() (push, cache *publish.Destination, err error) {
	if o.signing.pushTo != "" {
		d, err := o.signing.registry.destination("--push", o.signing.pushTo)
		if err != nil {
			return nil, nil, err
		}
		push = &d
	}
	switch {
	case o.noCacheFrom:
	case o.cacheFrom != "":
		d, err := o.signing.registry.destination("--cache-from", o.cacheFrom)
		if err != nil {
			return nil, nil, err
		}
		cache = &d
	default:
		cache = push
	}
	return push, cache, nil
}

// remoteCache is the registry build asks before building a spec: dst,
// --cache-from else the --push target (nil: none, as with --no-cache-from).
// Its images count only when signed by --cache-key, else by the build's own
// key (signer).
func (o *buildOptions) remoteCache(signer sign.Signer, dst *publish.Destination) (pipeline.RemoteCache, error) {
	if dst == nil {
		if o.cacheKey != "" {
			return nil, usageError("--cache-key: no registry cache to verify (give --cache-from or --push)")
		}
		return nil, nil
	}
	from := o.cacheFrom
	if from == "" {
		from = o.signing.pushTo
	}
	var (
		v   *sign.Verifier
		err error
	)
	switch {
	case o.cacheKey != "":
		if v, err = sign.LoadVerifierFrom(o.cacheKey); err != nil {
			return nil, usageError("--cache-key: %v", err)
		}
	case signer != nil:
		if v, err = sign.NewVerifier(signer.Public()); err != nil {
			return nil, err
		}
	default:
		return nil, usageError("--cache-from %s: an unsigned build has no key to check the registry's images with: give --cache-key PUB (the public key they were signed with), or --no-cache-from", from)
	}
	return publish.RegistryCache{Dest: *dst, Verifier: v}, nil
}

const buildLong = `Build compiles the named specs (or --all) and builds each for every platform
through apko into one OCI image layout for the whole catalog, with SPDX SBOMs,
post-build hardening checks on the real filesystem, and a report.

Outputs under --out (default ./out):
  oci/           the OCI image layout; index.json entries carry the image refs
  compiled/      the flat compiled spec and package lock of every spec
  report.json    per spec: input digest, image digest, status, duration, findings

--out and --cache-dir must lie outside the catalog root (exit 2 otherwise):
what a build writes would become part of the catalog, and its cache's links
to the mirrors would fail hic vet's catalog-sandbox rule. Nor may --out lie
in a mirror (--mirrors, --mirror DIR), a mirror in what the build writes
(OUT/oci, OUT/compiled, the cache; OUT/mirror is fine), or --cache-dir in a
mirror or in the OCI layout OUT/oci, which is published with what is in it.
--plain-http and --insecure-registry need --push or --cache-from.

A spec whose input digest (compiled spec + lock + hic and apko versions)
already has an image in the layout is not rebuilt. --mirrors DIR builds from a
local mirror (see hic mirror); --mirror URL=DIR maps one repository. Exit
status 1 if any spec failed to build or a post-build check failed.

Signing: --key PATH or PEM (or HIC_SIGNING_KEY; hic keygen makes a key pair) signs
every image and its attestations (SLSA provenance, SPDX and CycloneDX SBOMs,
hardening report), stored as OCI 1.1 referrers; the key's id feeds the input
digest. A build without a key needs an explicit --unsigned, and report.json
says whether the build was signed. --push REGISTRY/PREFIX publishes the specs
that succeeded after the build, as hic publish does; hic verify checks them.

A signed layout stays signed, and by one key, unless asked: a build into an
--out whose layout holds signed images is refused (exit 2) before anything
is written when it is --unsigned, or signed with another key than theirs
(index.json names the key of each image's signatures and attestations). It
would rebuild the images it selects unsigned or with its own key, dropping
their signatures and attestations (hic gc then deletes them), and leave a
layout signed in part or by two keys. The refusal names the specs it
selects, the other signed ones, and the keys. Build with that key, into
another --out, or add --replace-signed to replace them: with unsigned
images, or with images signed by the new key, as for a key rotation (hic
build --all --key NEW --replace-signed). The summary then names the images
replaced and those left as they were; hic publish --key refuses an image
whose attestations are by another key, or that has none.

Registry cache: --cache-from REGISTRY/PREFIX (by default the --push target) is
asked, by one HEAD request per spec, whether it already holds the image of the
spec's input digest (hic publish tags each image hic-input-<hex> once it is
pushed whole). The image counts only if its index is signed by the build's key
(or by --cache-key PUB); a tag without such a signature is ignored with a
warning and the spec is built. A spec found so is not built: the report says
cached, with the registry repository in cachedFrom, and progress says "cached
(registry)". The image stays in the registry, not in the local layout. This is
how shards on separate machines share their work (see README, "Scaling out").`

// buildMemoryLimit is hic build's soft memory limit (runtime/debug.SetMemoryLimit).
const buildMemoryLimit = 320 << 20

func newBuildCmd(root *rootOptions) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [REF...|--all]",
		Short: "Build specs into OCI images through apko, in parallel and incrementally",
		Long:  buildLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.conflicts(); err != nil {
				return err
			}
			push, cache, err := o.destinations()
			if err != nil {
				return err
			}
			shard, err := o.shard.parse()
			if err != nil {
				return err
			}
			if err := selectionError("build", o.all, args); err != nil {
				return err
			}
			if o.jobs < 1 {
				return usageError("--jobs %d: want at least 1", o.jobs)
			}
			mirrors, err := o.mirrorList()
			if err != nil {
				return err
			}
			prev, err := readPlanReport(o.shard.report)
			if err != nil {
				return err
			}
			signer, pub, err := o.signing.setup(root, push)
			if err != nil {
				return err
			}
			remoteCache, err := o.remoteCache(signer, cache)
			if err != nil {
				return err
			}
			today, err := parseToday(o.today)
			if err != nil {
				return err
			}
			if err := checkFormat(o.format, formatText, formatJSON); err != nil {
				return usageError("build: %v", err)
			}
			output := cmd.OutOrStdout()
			if o.format == formatJSON {
				output = io.Discard
			}
			// apko's layer writers and compressors buffer megabytes each;
			// a soft limit makes the collector return them before the heap
			// grows with the number of builds in flight. GOMEMLIMIT in the
			// environment still wins.
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(buildMemoryLimit)
			}
			load, err := root.catalogOptions(today)
			if err != nil {
				return err
			}
			memo, err := root.checksMemoKey()
			if err != nil {
				clog.FromContext(cmd.Context()).Debug("no memo of checks: every cached image is hashed", "error", err)
				memo = nil
			}
			var shardOpt *pipeline.Shard
			if shard != nil {
				shardOpt = &pipeline.Shard{Index: shard.i, Count: shard.n, Prev: prev}
			}
			r, err := pipeline.BuildCatalog(cmd.Context(), pipeline.CatalogOptions{
				Catalog:       root.catalog,
				Refs:          args,
				Load:          load,
				Out:           o.out,
				CacheDir:      o.cacheDir,
				Mirrors:       mirrors,
				Offline:       o.mirrors != "" || len(o.mirror) > 0,
				Jobs:          o.jobs,
				Signer:        signer,
				ReplaceSigned: o.signing.replaceSigned,
				Remote:        remoteCache,
				ChecksMemo:    memo,
				Shard:         shardOpt,
				Publisher:     pub,
				HicVersion:    version,
				Progress:      progressWriter(cmd, root),
				Output:        output,
			})
			if err != nil {
				return buildError(cmd, root, err)
			}
			if o.format == formatJSON {
				if err := writeJSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			}
			if r.Failed() {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.all, "all", false, "build every spec of the catalog")
	f.StringVar(&o.out, "out", "out", "output directory")
	f.StringVarP(&o.format, "format", "o", formatText, "output format: text (the summary) or json (the build report, as OUT/report.json)")
	f.StringVar(&o.mirrors, "mirrors", "", "mirror root written by hic mirror (holds mirrors.json)")
	f.StringArrayVar(&o.mirror, "mirror", nil, "map a catalog repository to a local directory: URL=DIR (repeatable)")
	f.IntVarP(&o.jobs, "jobs", "j", runtime.NumCPU(), "specs built at once")
	f.StringVar(&o.cacheDir, "cache-dir", "", "apko package cache (default OUT/cache)")
	f.StringVar(&o.today, "today", "", "judge end-of-life against this date (YYYY-MM-DD)")
	f.StringVar(&o.cacheFrom, "cache-from", "", "skip specs whose image REGISTRY/PREFIX already holds (default: the --push target)")
	f.BoolVar(&o.noCacheFrom, "no-cache-from", false, "do not ask the --push target for images already built")
	f.StringVar(&o.cacheKey, "cache-key", "", "public key (a PEM file or the PEM itself) the --cache-from images must be signed with (default: the public half of --key)")
	o.signing.addFlags(f)
	o.shard.addFlags(f)
	return cmd
}

// signingFlags are hic build's --key, --unsigned, --replace-signed and --push.
type signingFlags struct {
	key      string
	unsigned bool
	// replaceSigned lets the build replace the layout's signed images
	// with unsigned ones or with ones signed by another key
	// (pipeline.CatalogOptions.ReplaceSigned).
	replaceSigned bool
	pushTo        string
	registry      registryFlags
}

func (f *signingFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.key, "key", "", "sign with this private key: a PEM file (hic keygen) or the PEM itself; env HIC_SIGNING_KEY")
	fs.BoolVar(&f.unsigned, "unsigned", false, "build without signatures and attestations (needed when no key is given)")
	fs.BoolVar(&f.replaceSigned, "replace-signed", false, "let the build replace the layout's signed images with unsigned ones (--unsigned) or with ones signed by another key (--key NEW, a key rotation); refused without it")
	fs.StringVar(&f.pushTo, "push", "", "after the build, publish the specs that succeeded to REGISTRY/PREFIX (as hic publish --key)")
	f.registry.addFlags(fs)
}

// setup loads the key and makes the publisher to push (the parsed --push).
// A build needs a key (--key or HIC_SIGNING_KEY) or an explicit --unsigned;
// the signer is nil for an unsigned build, the publisher nil without --push.
func (f *signingFlags) setup(root *rootOptions, push *publish.Destination) (sign.Signer, publish.Publisher, error) {
	var signer sign.Signer
	key := f.key
	// --key with --unsigned is refused before (buildOptions.conflicts).
	if !f.unsigned {
		if key == "" {
			key = root.getenv("HIC_SIGNING_KEY")
		}
		if key == "" {
			return nil, nil, usageError("no signing key: pass --key PATH (or set HIC_SIGNING_KEY; hic keygen makes one), or --unsigned for an unsigned build")
		}
		var err error
		if signer, err = sign.LoadSignerFrom(key); err != nil {
			return nil, nil, usageError("signing key: %v", err)
		}
	}
	if push == nil {
		return signer, nil, nil
	}
	// As hic publish --key: each image is signed for the repository it is
	// pushed to.
	return signer, publish.Registry{Dest: *push, Options: publish.Options{Signer: signer}}, nil
}

// buildError turns pipeline.Build's error into the CLI's: messages
// printed as vet prints them, and the exit code.
func buildError(cmd *cobra.Command, root *rootOptions, err error) error {
	var ie *pipeline.InputError
	var pe *pipeline.PublishError
	var kr *publish.KeyRefusal
	switch {
	case errors.As(err, &ie), errors.As(err, &kr):
		return usageError("%v", err)
	case errors.As(err, &pe) && !errors.Is(err, context.Canceled):
		return &exitError{code: exitFindings, err: err}
	}
	return catalogError(cmd, root, err)
}

func (o *buildOptions) mirrorList() ([]resolve.Mirror, error) {
	var out []resolve.Mirror
	if o.mirrors != "" {
		ms, err := mirror.Load(o.mirrors)
		if err != nil {
			return nil, usageError("%v", err)
		}
		out = append(out, ms...)
	}
	for _, m := range o.mirror {
		url, dir, ok := strings.Cut(m, "=")
		if !ok || url == "" || dir == "" {
			return nil, usageError("--mirror %q: want URL=DIR", m)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, usageError("--mirror %q: %v", m, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, usageError("--mirror %q: %s is not a directory", m, dir)
		}
		out = append(out, resolve.Mirror{URL: url, Dir: abs})
	}
	return out, nil
}

// progressWriter is where a command's progress lines go: stderr, or nowhere
// under -q (errors still reach stderr; the exit status tells).
func progressWriter(cmd *cobra.Command, root *rootOptions) io.Writer {
	if root.quiet {
		return io.Discard
	}
	return cmd.ErrOrStderr()
}
