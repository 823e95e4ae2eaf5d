package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/chainguard-dev/clog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/build"
	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/layercache"
	"github.com/hic-build/hic/compiler/mirror"
	"github.com/hic-build/hic/compiler/pipeline"
	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/smoke"
	"github.com/hic-build/hic/compiler/store"
)

// version is hic's version; it feeds every input digest.
const version = "0.1.0"

type buildOptions struct {
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

// remoteCache is the registry build asks before building a spec: --cache-from,
// else the --push target; none with --no-cache-from. Its images count only
// when signed by --cache-key, else by the build's own key (sg).
func (o *buildOptions) remoteCache(sg *signing) (pipeline.RemoteCache, error) {
	from := o.cacheFrom
	if from == "" {
		from = o.signing.pushTo
	}
	if from == "" || o.noCacheFrom {
		if o.cacheKey != "" {
			return nil, usageError("--cache-key: no registry cache to verify (give --cache-from or --push)")
		}
		return nil, nil
	}
	ro, err := o.signing.registry.options()
	if err != nil {
		return nil, err
	}
	dst, err := ro.ParseDestination(from)
	if err != nil {
		return nil, usageError("--cache-from: %v", err)
	}
	var v *sign.Verifier
	switch {
	case o.cacheKey != "":
		if v, err = sign.LoadVerifierFrom(o.cacheKey); err != nil {
			return nil, usageError("--cache-key: %v", err)
		}
	case sg != nil && sg.signer != nil:
		if v, err = sign.NewVerifier(sg.signer.Public()); err != nil {
			return nil, err
		}
	default:
		return nil, usageError("--cache-from %s: an unsigned build has no key to check the registry's images with: give --cache-key PUB (the public key they were signed with), or --no-cache-from", from)
	}
	return publish.RegistryCache{Dest: dst, Verifier: v}, nil
}

const buildLong = `Build compiles the named specs (or --all) and builds each for every platform
through apko into one OCI image layout for the whole catalog, with SPDX SBOMs,
post-build hardening checks on the real filesystem, and a report.

Outputs under --out (default ./out):
  oci/           the OCI image layout; index.json entries carry the image refs
  compiled/      the flat compiled spec and package lock of every spec
  report.json    per spec: input digest, image digest, status, duration, findings

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
			sg, err := o.signing.setup(root)
			if err != nil {
				return err
			}
			remoteCache, err := o.remoteCache(sg)
			if err != nil {
				return err
			}
			today, err := parseToday(o.today)
			if err != nil {
				return err
			}
			// apko's layer writers and compressors buffer megabytes each;
			// a soft limit makes the collector return them before the heap
			// grows with the number of builds in flight. GOMEMLIMIT in the
			// environment still wins.
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(buildMemoryLimit)
			}
			cat, imgs, err := compileSelected(cmd, root, args, today)
			if err != nil {
				return err
			}
			var place *report.Shard
			if shard != nil {
				n := len(imgs)
				if imgs, place, err = shard.pick(imgs, prev); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "shard %d/%d of plan %s: %d of %d specs\n", shard.i, shard.n, place.Plan, len(imgs), n)
				if len(imgs) == 0 {
					return writeEmptyReport(cmd, o.out, place)
				}
			}
			sg.withAttacher(cmd.Context(), cat)
			if o.mirrors != "" || len(o.mirror) > 0 {
				cfgs := make(map[string]types.ImageConfiguration, len(imgs))
				for _, img := range imgs {
					cfgs[img.Ref] = img.Config
				}
				if err := resolve.CheckCovered(cfgs, mirrors); err != nil {
					return usageError("%v", err)
				}
			}
			// Take the layout's lock before writing anything under --out, so
			// a second hic on the same directory changes nothing.
			st, err := store.Open(cmd.Context(), filepath.Join(o.out, "oci"))
			if err != nil {
				return err
			}
			defer st.Close()
			if key, err := checksMemoKey(); err != nil {
				clog.FromContext(cmd.Context()).Debug("no memo of checks: every cached image is hashed", "error", err)
			} else {
				st.RememberChecks(key)
			}
			compiledDir := filepath.Join(o.out, "compiled")
			if err := writeCompiled(compiledDir, imgs); err != nil {
				return err
			}
			cache := o.cacheDir
			if cache == "" {
				cache = filepath.Join(o.out, "cache")
			}
			// apko's scratch space: a directory of hic's own, never one the
			// user may have made (--out . must not lose ./tmp).
			// Scratch directories of killed builds: nobody else can own
			// them while this process holds the layout's lock.
			if err := fsutil.RemoveStale(o.out, ".hic-build-"); err != nil {
				return err
			}
			tmp, err := os.MkdirTemp(o.out, ".hic-build-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			layers, err := layercache.Open(filepath.Join(cache, "layers"), 0)
			if err != nil {
				return err
			}
			builder := pipeline.LockWriter{
				Builder: &pipeline.LockCache{
					Builder: pipeline.ApkoBuilder{Mirrors: mirrors, CacheDir: cache, TempDir: tmp, Layers: layers, Checked: build.NewPackageChecks()},
					Dir:     filepath.Join(cache, "locks"),
					Mirrors: mirrors,
				},
				Dir: compiledDir,
			}
			report, runErr := pipeline.Run(cmd.Context(), imgs, pipeline.Options{
				Store:       st,
				Builder:     builder,
				Attacher:    sg.attacher(),
				Remote:      remoteCache,
				Shard:       place,
				Smoke:       &smoke.Sandbox{},
				KeyIdentity: sg.keyID(),
				Jobs:        o.jobs,
				// A mirror hic generated labels what is built from it.
				SyntheticRepositories: syntheticRepositories(mirrors),
				HicVersion:            version,
				ReportPath:            filepath.Join(o.out, "report.json"),
				Progress:              cmd.ErrOrStderr(),
				Logger:                root.logger,
			})
			if ls := layers.Stats(); ls.Stored+ls.Reused > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "layers: %d compressed, %d reused from %s\n", ls.Stored, ls.Reused, layers.Dir())
			}
			if report != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "images: %s  compiled specs: %s  report: %s\n",
					filepath.Join(o.out, "oci"), compiledDir, filepath.Join(o.out, "report.json"))
			}
			if runErr != nil {
				return runErr
			}
			if err := o.signing.push(cmd, root, sg, st, report); err != nil {
				return err
			}
			if report.Failed() {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.all, "all", false, "build every spec of the catalog")
	f.StringVar(&o.out, "out", "out", "output directory")
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

// signingFlags are hic build's --key, --unsigned and --push.
type signingFlags struct {
	key      string
	unsigned bool
	pushTo   string
	registry registryFlags
}

func (f *signingFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.key, "key", "", "sign with this private key: a PEM file (hic keygen) or the PEM itself; env HIC_SIGNING_KEY")
	fs.BoolVar(&f.unsigned, "unsigned", false, "build without signatures and attestations (needed when no key is given)")
	fs.StringVar(&f.pushTo, "push", "", "after the build, publish the specs that succeeded to REGISTRY/PREFIX (as hic publish --key)")
	f.registry.addFlags(fs)
}

// signing is the signing setup of one build; nil fields for an unsigned build.
type signing struct {
	signer sign.Signer
	att    *attest.SigningAttacher
}

func (s *signing) attacher() pipeline.Attacher {
	if s == nil || s.att == nil {
		return nil // a nil interface, not a nil *SigningAttacher
	}
	return s.att
}

func (s *signing) keyID() string {
	if s == nil || s.signer == nil {
		return ""
	}
	return s.signer.KeyID()
}

// setup checks the flags and loads the key. A build needs a key (--key or
// HIC_SIGNING_KEY) or an explicit --unsigned.
func (f *signingFlags) setup(root *rootOptions) (*signing, error) {
	if f.pushTo != "" {
		ro, err := f.registry.options()
		if err != nil {
			return nil, err
		}
		if _, err := ro.ParseDestination(f.pushTo); err != nil {
			return nil, usageError("--push: %v", err)
		}
	}
	key := f.key
	if f.unsigned {
		if key != "" {
			return nil, usageError("--key and --unsigned exclude each other")
		}
		return &signing{}, nil
	}
	if key == "" {
		key = root.getenv("HIC_SIGNING_KEY")
	}
	if key == "" {
		return nil, usageError("no signing key: pass --key PATH (or set HIC_SIGNING_KEY; hic keygen makes one), or --unsigned for an unsigned build")
	}
	signer, err := sign.LoadSignerFrom(key)
	if err != nil {
		return nil, usageError("signing key: %v", err)
	}
	return &signing{signer: signer}, nil
}

// withAttacher adds the attestation signer of a signed build of cat: the
// rules it names are the schema's and the post-build ones; the static
// checks' findings go into each spec's hardening report beside the
// post-build ones.
func (s *signing) withAttacher(ctx context.Context, cat *catalog.Catalog) {
	if s.signer == nil {
		return
	}
	s.att = &attest.SigningAttacher{
		Signer:         s.signer,
		HicVersion:     version,
		CatalogRoot:    cat.Root,
		GitCommit:      catalog.GitCommit(ctx, cat.Root),
		Rules:          cat.RuleIDs(inspect.Rules()...),
		StaticFindings: cat.StaticFindings(),
		Advisories:     cat.Advisories,
	}
}

// push publishes the specs of r that succeeded (built or cached, no failing
// finding) from the store's layout to --push.
func (f *signingFlags) push(cmd *cobra.Command, root *rootOptions, sg *signing, st *store.Store, r *report.Report) error {
	if f.pushTo == "" || r == nil {
		return nil
	}
	w := cmd.OutOrStdout()
	var refs []string
	for _, s := range r.Specs {
		// A spec found in a registry (--cache-from) has no image in the
		// layout to push: it is there already.
		if (s.Status == report.StatusBuilt || s.Status == report.StatusCached) && !s.Failed() && s.CachedFrom == "" {
			refs = append(refs, s.Ref)
		}
	}
	// Specs that failed are refused by name (their earlier images too);
	// the others are pushed.
	why := failingSpecs(r)
	for _, s := range r.Specs {
		if reason, bad := why[s.Ref]; bad {
			fmt.Fprintf(w, "push: refusing %s: %s\n", s.Ref, reason)
		}
	}
	if len(refs) == 0 {
		if n := r.Counts.CachedRegistry; n > 0 {
			fmt.Fprintf(w, "push: nothing to push (%s already in the registry)\n", count(n, "spec"))
		} else {
			fmt.Fprintln(w, "push: no spec succeeded; nothing to push")
		}
		return nil
	}
	ro, err := f.registry.options()
	if err != nil {
		return err
	}
	dst, err := ro.ParseDestination(f.pushTo)
	if err != nil {
		return usageError("--push: %v", err)
	}
	ctx := cmd.Context()
	images, err := publish.FromLayout(ctx, st.Layout(), refs...)
	if err != nil {
		return &exitError{code: exitFindings, err: fmt.Errorf("push: %w", err)}
	}
	var signer sign.Signer
	if sg != nil {
		signer = sg.signer
	}
	err = publish.PublishImages(ctx, images, dst, publish.Options{
		Logger: root.logger,
		Signer: signer,
		Progress: func(ev publish.Event) {
			fmt.Fprintf(w, "pushed %s@%s referrers %d signatures %d attestations %d\n", ev.Ref, ev.Digest, ev.Referrers, ev.Signatures, ev.Attestations)
		},
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &exitError{code: exitFindings, err: fmt.Errorf("push: %w", err)}
	}
	fmt.Fprintf(w, "pushed %s of %s to %s\n", count(len(images), "image"), count(len(refs), "spec"), dst)
	return nil
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

// syntheticRepositories lists the catalog URLs of mirrors hic generated.
func syntheticRepositories(ms []resolve.Mirror) []string {
	var out []string
	for _, m := range ms {
		if apkrepo.IsSynthetic(m.Dir) {
			out = append(out, strings.TrimSuffix(m.URL, "/"))
		}
	}
	return out
}
