package pipeline

// This file is the whole of hic build as one call: the front end
// (compiler/catalog: load, check, select, compile), the build's shard
// (compiler/plan), the compiled specs written out, the signed attestations
// set up (compiler/attest), the builder wrappers assembled, Run into the
// store, and what succeeded handed to a publisher (compiler/publish). It
// parses no flags, reads no environment and sets no exit code; its errors
// say which kind of failure they are (catalog.InputError,
// catalog.LoadError, catalog.FailingError, InputError, PublishError).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/chainguard-dev/clog"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/build"
	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/layercache"
	"github.com/hic-build/hic/compiler/plan"
	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/smoke"
	"github.com/hic-build/hic/compiler/store"
)

// CatalogOptions configure BuildCatalog. Catalog, Out, Jobs and HicVersion are required.
type CatalogOptions struct {
	// Catalog is the catalog path (its root is found with catalog.FindRoot).
	Catalog string
	// Refs select the specs (spec.Select's grammar); none: all.
	Refs []string
	// Load configures the front end (Today, CacheDir, GCPercent; Dirs is set
	// from Refs).
	Load catalog.Options
	// Out is the output directory: Out/oci (the layout), Out/compiled,
	// Out/report.json and apko's scratch space.
	Out string
	// CacheDir holds apko's package cache, the layer cache and the lock
	// cache. Default Out/cache.
	CacheDir string
	// Mirrors map catalog repositories to local directories.
	Mirrors []resolve.Mirror
	// Offline refuses, before anything is built, a spec whose repositories
	// Mirrors do not all cover (no network fallback): set it when the user
	// gave mirrors.
	Offline bool
	// Jobs bounds the specs built at once (at least 1).
	Jobs int
	// Signer signs every image and its attestations. Nil: an unsigned build.
	Signer sign.Signer
	// ReplaceSigned lets a build replace the layout's signed images with
	// unsigned ones (no Signer) or with ones signed by Signer's key when
	// another key signed them (a key rotation; hic build --replace-signed);
	// it then says which it replaced and which are left as they were.
	// Without it such a build is refused (an InputError) before anything
	// is written: which key signed each image is read from index.json
	// (attest.AnnotationKeyID).
	ReplaceSigned bool
	// Remote, if set, is asked for specs the layout lacks (hic build
	// --cache-from).
	Remote RemoteCache
	// ChecksMemo, if set, is the key of the store's memo of checks
	// (store.MemoKey, Store.RememberChecks): a no-op build trusts what an
	// earlier one hashed. Nil: every cached image is hashed.
	ChecksMemo []byte
	// Shard, if set, builds one shard of the selection's plan only.
	Shard *Shard
	// Publisher, if set, publishes the specs that succeeded (built or
	// cached in the layout, no failing finding) once the build is done.
	Publisher publish.Publisher
	// HicVersion is hic's version; it feeds every input digest.
	HicVersion string
	// Progress receives the build's progress and notes (stderr). Nil: none.
	Progress io.Writer
	// Output receives the lines that say what was written and pushed
	// (stdout). Nil: none.
	Output io.Writer
}

// Shard is one shard of the plan of a selection (hic build --shard I/N).
type Shard struct {
	// Index and Count are I and N, 0 <= I < N.
	Index, Count int
	// Prev is the earlier build's report that balances the plan (nil: none).
	Prev *report.Report
}

// InputError is BuildCatalog's error for a request that cannot be built as given
// (a repository no mirror covers, an unsigned build into a signed layout,
// a build signed with one key into a layout signed by another);
// the catalog's own input errors are *catalog.InputError.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// PublishError is BuildCatalog's error when the build succeeded but publishing
// its specs failed.
type PublishError struct{ Err error }

func (e *PublishError) Error() string { return "push: " + e.Err.Error() }
func (e *PublishError) Unwrap() error { return e.Err }

// BuildCatalog is hic build as a library: it builds the selected specs of the catalog into the layout under
// opts.Out and returns the report (nil when nothing was built because the
// front end refused). A report whose specs failed is no error: see
// report.Failed.
func BuildCatalog(ctx context.Context, opts CatalogOptions) (*report.Report, error) {
	if opts.Jobs < 1 {
		return nil, fmt.Errorf("build: jobs %d: want at least 1", opts.Jobs)
	}
	progress, output := orDiscard(opts.Progress), orDiscard(opts.Output)
	if err := outsideCatalog(opts); err != nil {
		return nil, err
	}
	// The layout's index.json (16 MB for the catalog) is decoded while the
	// front end runs; the store takes it if it is unchanged when opened.
	index := store.PrefetchIndex(filepath.Join(opts.Out, "oci"))
	// So are the memo of checks and, for a signed build, the catalog's git
	// commit (two git processes).
	var checks *store.ChecksPrefetch
	if opts.ChecksMemo != nil {
		checks = store.PrefetchChecks(filepath.Join(opts.Out, "oci"), opts.ChecksMemo)
	}
	commit := gitCommit(ctx, opts)
	defer commit.wait()
	cat, imgs, err := catalog.Compiled(ctx, opts.Catalog, opts.Refs, opts.Load)
	if err != nil {
		return nil, err
	}
	var place *report.Shard
	if s := opts.Shard; s != nil {
		n := len(imgs)
		if imgs, place, err = pick(imgs, s); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "shard %d/%d of plan %s: %d of %d specs\n", s.Index, s.Count, place.Plan, len(imgs), n)
		if len(imgs) == 0 {
			return emptyReport(ctx, opts, place, output)
		}
	}
	attacher := signingAttacher(ctx, cat, opts, commit)
	// The advisories feed the input digests of a signed build only: an
	// unsigned one makes no OpenVEX document of them.
	advisories := cat.Advisories
	if attacher == nil {
		advisories = nil
	}
	if opts.Offline {
		cfgs := make(map[string]types.ImageConfiguration, len(imgs))
		for _, img := range imgs {
			cfgs[img.Ref] = resolve.ApkoConfig(img.Config)
		}
		if err := resolve.CheckCovered(cfgs, opts.Mirrors); err != nil {
			return nil, &InputError{err}
		}
	}
	// Take the layout's lock before writing anything under Out, so a second
	// hic on the same directory changes nothing.
	st, err := store.OpenPrefetched(ctx, filepath.Join(opts.Out, "oci"), index)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	// The earlier build's report lists the specs whose last build failed,
	// which publish refuses: a damaged one is refused before anything is
	// written, not dropped (Run reads it again, under the same lock).
	reportPath := filepath.Join(opts.Out, "report.json")
	if _, err := report.ReadEarlier(reportPath); err != nil {
		return nil, &InputError{fmt.Errorf("build: %w", err)}
	}
	// A build unsigned or with another key rebuilds every signed spec it
	// selects (the key feeds the input digest) and so would strip or
	// replace its signatures: a signed layout is not un-signed, nor signed
	// by two keys, but on request (signedlayout.go).
	var keyID string
	if opts.Signer != nil {
		keyID = opts.Signer.KeyID()
	}
	signedBefore := signedLayout{out: opts.Out, keys: signedKeys(st, opts.Out)}
	selected := make([]string, len(imgs))
	for i, img := range imgs {
		selected[i] = img.Ref
	}
	if err := signedBefore.refuse(keyID, selected, opts.ReplaceSigned); err != nil {
		return nil, err
	}
	if opts.ChecksMemo != nil {
		st.RememberPrefetchedChecks(opts.ChecksMemo, checks)
		// The referrers of every cached spec's platform manifests are
		// found through one index of all referrers by subject: built
		// while the compiled specs are written, not by the first worker
		// with the other waiting.
		indexed := make(chan struct{})
		go func() {
			defer close(indexed)
			if err := st.IndexReferrers(); err != nil {
				clog.FromContext(ctx).Debug("referrers not indexed ahead", "error", err)
			}
		}()
		defer func() { <-indexed }()
	}
	compiledDir := filepath.Join(opts.Out, "compiled")
	if err := compile.WriteDir(compiledDir, imgs); err != nil {
		return nil, err
	}
	cache := opts.CacheDir
	if cache == "" {
		cache = filepath.Join(opts.Out, "cache")
	}
	// apko's scratch space: a directory of hic's own, never one the user may
	// have made (--out . must not lose ./tmp). Scratch directories of killed
	// builds: nobody else can own them while this process holds the
	// layout's lock.
	if err := fsutil.RemoveStale(opts.Out, ".hic-build-"); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(opts.Out, ".hic-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	layers, err := layercache.Open(filepath.Join(cache, "layers"), 0)
	if err != nil {
		return nil, err
	}
	// The smoke tests' root filesystems share the layers they have in
	// common: each is made once for the whole build, from the tar as the
	// build writes it or, for a layer the cache held, extracted.
	trees := smoke.NewLayerTrees("", os.Geteuid() == 0, 0)
	defer trees.Close()
	checked := build.NewPackageChecks()
	var entries *build.EntryMemo
	if opts.ChecksMemo != nil {
		entries = build.OpenEntryMemo(filepath.Join(cache, "checked-entries"), opts.ChecksMemo)
		checked.RememberEntries(entries)
	}
	builder := LockWriter{
		Builder: &LockCache{
			Builder: ApkoBuilder{Mirrors: opts.Mirrors, CacheDir: cache, TempDir: tmp, Layers: layers, Checked: checked, Trees: trees},
			Dir:     filepath.Join(cache, "locks"),
			Mirrors: opts.Mirrors,
		},
		Dir: compiledDir,
	}
	var inputs *InputMemo
	if opts.ChecksMemo != nil {
		inputs = OpenInputMemo(filepath.Join(cache, "input-digests"), opts.ChecksMemo)
	}
	r, runErr := Run(ctx, imgs, Options{
		Store:       st,
		Builder:     builder,
		Attacher:    attacher,
		Remote:      opts.Remote,
		Shard:       place,
		Smoke:       &smoke.Sandbox{Trees: trees},
		KeyIdentity: keyID,
		InputMemo:   inputs,
		Advisories:  advisories,
		Jobs:        opts.Jobs,
		// A mirror hic generated labels what is built from it.
		SyntheticRepositories: syntheticRepositories(opts.Mirrors),
		HicVersion:            opts.HicVersion,
		ReportPath:            reportPath,
		Progress:              opts.Progress,
	})
	if err := inputs.Save(); err != nil {
		clog.FromContext(ctx).Debug("input digests not remembered", "error", err)
	}
	if err := entries.Save(); err != nil {
		clog.FromContext(ctx).Debug("checked package cache entries not remembered", "error", err)
	}
	if opts.ReplaceSigned {
		signedBefore.note(progress, keyID, st)
	}
	if ls := layers.Stats(); ls.Stored+ls.Reused > 0 {
		fmt.Fprintf(progress, "layers: %d compressed, %d reused from %s\n", ls.Stored, ls.Reused, layers.Dir())
	}
	var noReport *reportNotWritten
	switch {
	case r != nil && errors.As(runErr, &noReport):
		fmt.Fprintf(output, "images: %s  compiled specs: %s  report: not written\n", filepath.Join(opts.Out, "oci"), compiledDir)
	case r != nil:
		fmt.Fprintf(output, "images: %s  compiled specs: %s  report: %s\n", filepath.Join(opts.Out, "oci"), compiledDir, reportPath)
	}
	if runErr != nil {
		return r, runErr
	}
	if opts.Publisher != nil {
		if err := publishSucceeded(ctx, opts.Publisher, st, r, output); err != nil {
			return r, err
		}
	}
	return r, nil
}

// outsideCatalog refuses an output or cache directory inside the catalog
// root: what the build writes there would become part of the catalog, and
// apko's cache links to the mirrors (CACHE/hic-mirrors/*) lead outside it,
// so the next hic vet failed catalog-sandbox on them. A catalog root that
// cannot be found is left to the front end to report.
func outsideCatalog(opts CatalogOptions) error {
	root, err := catalog.FindRoot(opts.Catalog)
	if err != nil {
		return nil
	}
	dirs := []struct{ flag, dir string }{{"--out", opts.Out}}
	if opts.CacheDir != "" {
		dirs = append(dirs, struct{ flag, dir string }{"--cache-dir", opts.CacheDir})
	}
	for _, d := range dirs {
		in, err := fsutil.Within(d.dir, root)
		if err != nil {
			return fmt.Errorf("build: %s %s: %w", d.flag, d.dir, err)
		}
		if in {
			return &InputError{fmt.Errorf("%s %s is inside the catalog root %s: the build's output would become part of the catalog (its cache links to the mirrors lead outside it, and hic vet fails catalog-sandbox on them); give a directory outside the catalog (say %s %s)",
				d.flag, d.dir, root, d.flag, filepath.Join(filepath.Dir(root), filepath.Base(d.dir)))}
		}
	}
	return nil
}

// pendingCommit is the catalog's git commit being read in the background.
type pendingCommit struct {
	done   chan struct{}
	root   string
	commit string
}

// gitCommit starts reading the git commit of the catalog's root for a signed
// build (nil for an unsigned one, or when the root is not found: the front
// end then fails).
func gitCommit(ctx context.Context, opts CatalogOptions) *pendingCommit {
	if opts.Signer == nil {
		return nil
	}
	root, err := catalog.FindRoot(opts.Catalog)
	if err != nil {
		return nil
	}
	p := &pendingCommit{done: make(chan struct{}), root: root}
	go func() {
		defer close(p.done)
		p.commit = catalog.GitCommit(ctx, root)
	}()
	return p
}

// wait waits for the git processes (nil: none).
func (p *pendingCommit) wait() {
	if p != nil {
		<-p.done
	}
}

// of returns the git commit of root (catalog.GitCommit), as read in the
// background when that was root.
func (p *pendingCommit) of(ctx context.Context, root string) string {
	if p == nil || p.root != root {
		return catalog.GitCommit(ctx, root)
	}
	<-p.done
	return p.commit
}

// signingAttacher is the attestation signer of a signed build of cat (nil
// for an unsigned one): the rules it names are the schema's and the
// post-build ones; the static checks' findings go into each spec's
// hardening report beside the post-build ones. commit is the catalog's
// git commit, read meanwhile.
func signingAttacher(ctx context.Context, cat *catalog.Catalog, opts CatalogOptions, commit *pendingCommit) Attacher {
	if opts.Signer == nil {
		return nil // a nil interface, not a nil *SigningAttacher
	}
	return &attest.SigningAttacher{
		Signer:         opts.Signer,
		HicVersion:     opts.HicVersion,
		CatalogRoot:    cat.Root,
		GitCommit:      commit.of(ctx, cat.Root),
		Rules:          cat.RuleIDs(inspect.Rules()...),
		StaticFindings: cat.StaticFindings(),
		Advisories:     cat.Advisories,
	}
}

// pick returns the images of shard s of the plan of imgs (balanced by
// s.Prev, when given), in the order of imgs, and the shard's place in the
// plan for its report.
func pick(imgs []compile.Image, s *Shard) ([]compile.Image, *report.Shard, error) {
	p, err := plan.New(imgs, s.Prev, s.Count)
	if err != nil {
		return nil, nil, err
	}
	in := map[string]bool{}
	for _, r := range p.Shards[s.Index].Refs {
		in[r] = true
	}
	var out []compile.Image
	for _, img := range imgs {
		if in[img.Ref] {
			out = append(out, img)
		}
	}
	return out, &report.Shard{Plan: p.Digest, Index: s.Index, Count: s.Count}, nil
}

// emptyReport writes the report of a build of nothing (an empty shard), so
// the merge step finds one report per shard. Like any build it writes under
// the layout's lock, and keeps what the earlier report of the same output
// carries over (the specs whose last build failed, which publish refuses);
// a damaged earlier report is refused, not replaced.
func emptyReport(ctx context.Context, opts CatalogOptions, place *report.Shard, output io.Writer) (*report.Report, error) {
	st, err := store.Open(ctx, filepath.Join(opts.Out, "oci"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	path := filepath.Join(opts.Out, "report.json")
	earlier, err := report.ReadEarlier(path)
	if err != nil {
		return nil, &InputError{fmt.Errorf("build: %w", err)}
	}
	r := &report.Report{Status: report.StatusCompleted, HicVersion: opts.HicVersion, ApkoVersion: ApkoVersion(), Shard: place, Specs: []report.SpecReport{}}
	if opts.Signer != nil {
		r.Signed, r.KeyID = true, opts.Signer.KeyID()
	}
	if earlier != nil {
		r.CarryFailing(earlier)
		r.CarryKey(earlier, !r.Signed && len(signedSpecs(st)) > 0)
	}
	if err := r.WriteFile(path); err != nil {
		return nil, err
	}
	fmt.Fprintf(output, "empty shard; report: %s\n", path)
	return r, nil
}

// publishSucceeded publishes the specs of r that succeeded (built or cached,
// no failing finding) from the store's layout with p, and names the specs
// it refuses.
func publishSucceeded(ctx context.Context, p publish.Publisher, st *store.Store, r *report.Report, w io.Writer) error {
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
	why := r.FailingSpecs()
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
	images, err := publish.FromLayout(ctx, st.Layout(), refs...)
	if err != nil {
		return &PublishError{err}
	}
	err = p.Publish(ctx, images, func(ev publish.Event) {
		fmt.Fprintf(w, "pushed %s@%s referrers %d signatures %d attestations %d\n", ev.Ref, ev.Digest, ev.Referrers, ev.Signatures, ev.Attestations)
	})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &PublishError{err}
	}
	fmt.Fprintf(w, "pushed %s of %s to %s\n", count(len(images), "image"), count(len(refs), "spec"), p)
	return nil
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

// count is "1 spec", "2 specs".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
