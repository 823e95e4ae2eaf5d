package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hic-build/hic/compiler/attest"
	"github.com/hic-build/hic/compiler/build"
	"github.com/hic-build/hic/compiler/report"

	"github.com/chainguard-dev/clog"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/semaphore"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/smoke"
	"github.com/hic-build/hic/compiler/store"
	"github.com/hic-build/hic/compiler/vex"
)

// Lock is what resolving one spec produced; Marshal gives its stable JSON,
// which feeds the spec's input digest. *resolve.Lock is a Lock.
type Lock interface {
	Marshal() ([]byte, error)
}

// PackageLock is a Lock that names the packages it installs (as
// *resolve.Lock does): the advisories about them feed the input digest. The
// advisories of a Lock that names none are all taken to be about it.
type PackageLock interface {
	Lock
	PackageNames() []string
}

// Builder resolves and builds one spec. Implementations must be safe for
// concurrent use and must stop promptly when ctx is cancelled.
type Builder interface {
	// Resolve locks the spec's packages. It runs for every spec, cached or not.
	Resolve(ctx context.Context, img compile.Image) (Lock, error)
	// Build builds the spec from its lock.
	Build(ctx context.Context, img compile.Image, lock Lock) (*Built, error)
}

// Built is one built spec as the pipeline needs it.
type Built struct {
	// Index is the multi-platform image index.
	Index v1.ImageIndex
	// IndexSBOM is the index's SPDX SBOM (may be empty).
	IndexSBOM []byte
	// Platforms are the index's images, one per platform.
	Platforms []Platform
	// BuildDate is the images' reproducible creation time (zero: unknown).
	BuildDate time.Time
}

// Platform is one platform's image of a Built.
type Platform struct {
	// Platform is "os/arch[/variant]" ("linux/amd64").
	Platform string
	Image    v1.Image
	// SBOM is the platform's SPDX JSON SBOM.
	SBOM []byte
	// FS is the platform's root filesystem; nil means flatten Image with
	// inspect.FromLayers.
	FS inspect.FS
	// Packages are the packages installed in Image as the lock names them
	// (checksums, repositories); nil when the builder does not know them.
	Packages []resolve.Package
	// Files are the .apk files of Packages by package name (their digests
	// and where they were read from); nil when the builder does not know
	// them.
	Files map[string]build.PackageFile
}

// Attacher makes extra referrers (signed attestations) for a built spec;
// they are stored in the same index.json swap as the image.
// *attest.SigningAttacher is the Attacher of a signed build.
type Attacher interface {
	Attach(ctx context.Context, img compile.Image, b attest.Built) ([]store.Referrer, error)
}

// Artifact types of the referrers the pipeline stores with each image.
const (
	ArtifactTypeSPDX     = "application/spdx+json"
	ArtifactTypeFindings = "application/vnd.dev.hic.findings.v1+json"
)

// Options configure Run.
type Options struct {
	// Store receives every built image. Required.
	Store *store.Store
	// Builder resolves and builds specs. Required.
	Builder Builder
	// Attacher, if set, adds referrers (attestations) to every built image.
	Attacher Attacher
	// Smoke, if set, runs each spec's smoke tests after the build; their
	// results go into the report, the stored referrers and (through the
	// Attacher) the hardening attestation, a failed test is a failing
	// finding. Nil: tests are not run, and no result claims they were.
	Smoke *smoke.Sandbox
	// SyntheticRepositories are the catalog repository URLs served by
	// generated mirrors (apkrepo.IsSynthetic): a spec naming one is
	// reported, and attested, as built from synthetic contents (the
	// hardening report's synthetic, the provenance's source
	// synthetic-mirror of each such package).
	SyntheticRepositories []string
	// Remote, if set, is asked for every spec the store does not have: a
	// spec whose input digest already has an image there is not built, and
	// is reported cached, from the remote (hic build --cache-from).
	Remote RemoteCache
	// Shard, if set, says which shard of which plan this build is; the
	// report records it for hic report merge.
	Shard *report.Shard
	// Jobs bounds how many specs are worked on at once. Default runtime.NumCPU().
	Jobs int
	// HicVersion is hic's version; it feeds the input digest.
	HicVersion string
	// KeyIdentity names the signing key; it feeds the input digest when set.
	KeyIdentity string
	// Advisories are the catalog's advisories: those about the packages a
	// spec's lock installs, the ones its signed OpenVEX document is made
	// from, feed its input digest, so a changed advisory rebuilds (and
	// re-attests) exactly the specs it is about. Nil: none.
	Advisories *vex.Advisories
	// InputMemo, if set, gives the input digests earlier builds computed
	// for the same spec, lock and versions. Nil: each is computed.
	InputMemo *InputMemo
	// ReportPath is where the report is written (atomically) when not empty,
	// e.g. out/report.json. The report an earlier build left there is read
	// first (report.ReadEarlier): what it carries over is kept, and one that
	// cannot be read or parsed fails Run before anything is built.
	ReportPath string
	// Progress receives a progress bar when it is a terminal, plain lines
	// otherwise. Nil: no progress.
	Progress io.Writer
	// CancelGrace is how long Run waits, once ctx is cancelled, for builds
	// in flight to stop before it abandons them and returns. Zero means
	// DefaultCancelGrace.
	CancelGrace time.Duration
}

// DefaultCancelGrace is the default Options.CancelGrace.
const DefaultCancelGrace = 3 * time.Second

// Run builds images (each at most once, started in ref order, at most
// opts.Jobs at a time) and returns the report. One spec's failure does not
// stop the others. When ctx is cancelled, no new spec starts, builds in
// flight get opts.CancelGrace to stop and are then abandoned (an abandoned or
// cancelled build never reaches the store's index.json: Store.Put checks ctx
// before its swap), every spec not finished is reported "cancelled", the
// report's Status is "cancelled", and Run returns the report with ctx's
// error. Other errors are about the options, the earlier report (a
// *fsutil.DamagedError: nothing was built) or writing the report.
func Run(ctx context.Context, images []compile.Image, opts Options) (*report.Report, error) {
	if opts.Store == nil || opts.Builder == nil {
		return nil, errors.New("pipeline: Store and Builder are required")
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	log := clog.FromContext(ctx)
	images = slices.Clone(images)
	sort.SliceStable(images, func(i, j int) bool { return images[i].Ref < images[j].Ref })
	for i := 1; i < len(images); i++ {
		if images[i].Ref == images[i-1].Ref {
			return nil, fmt.Errorf("pipeline: spec %s given twice", images[i].Ref)
		}
	}

	var earlier *report.Report
	if opts.ReportPath != "" {
		var err error
		if earlier, err = report.ReadEarlier(opts.ReportPath); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}

	start := time.Now()
	r := &report.Report{HicVersion: opts.HicVersion, ApkoVersion: ApkoVersion(), Signed: opts.KeyIdentity != "", KeyID: opts.KeyIdentity, Shard: opts.Shard, Specs: make([]report.SpecReport, len(images))}
	prog := newProgress(opts.Progress, len(images))
	w := &worker{opts: opts, versions: Versions{Hic: opts.HicVersion, Apko: r.ApkoVersion, Key: opts.KeyIdentity}}

	var (
		mu       sync.Mutex // guards r.Specs, finished and closed
		finished = make([]bool, len(images))
		closed   bool
		wg       sync.WaitGroup
	)
	sem := semaphore.NewWeighted(int64(opts.Jobs))
	for i, img := range images {
		if sem.Acquire(ctx, 1) != nil {
			break // cancelled: the rest are reported below
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sem.Release(1)
			sr := w.run(ctx, img)
			mu.Lock()
			defer mu.Unlock()
			if closed { // abandoned after cancellation; the report is done
				log.Info("abandoned build ended", "ref", sr.Ref, "status", sr.Status, "error", sr.Error)
				return
			}
			r.Specs[i], finished[i] = sr, true
			prog.done(sr)
			log.Info("spec done", "ref", sr.Ref, "status", sr.Status, "duration", time.Duration(sr.DurationMs)*time.Millisecond, "image", sr.ImageDigest, "error", sr.Error)
		}()
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		grace := opts.CancelGrace
		if grace == 0 {
			grace = DefaultCancelGrace
		}
		select {
		case <-all:
		case <-time.After(grace):
			log.Warn("abandoning builds still running after cancellation", "grace", grace)
		}
	}
	mu.Lock()
	closed = true
	for i, img := range images {
		if !finished[i] {
			msg := "not built"
			if err := ctx.Err(); err != nil {
				msg = err.Error()
			}
			r.Specs[i] = report.SpecReport{Ref: img.Ref, Status: report.StatusCancelled, Error: msg}
		}
	}
	mu.Unlock()
	prog.finish()

	r.Status = report.StatusCompleted
	if ctx.Err() != nil {
		r.Status = report.StatusCancelled
	}
	r.DurationMs = time.Since(start).Milliseconds()
	r.Recount()
	if opts.Progress != nil {
		r.WriteSummary(opts.Progress)
	}
	if opts.ReportPath != "" {
		if earlier != nil {
			r.CarryFailing(earlier)
			r.CarryKey(earlier, !r.Signed && len(signedSpecs(opts.Store)) > 0)
		}
		if err := r.WriteFile(opts.ReportPath); err != nil {
			return r, &reportNotWritten{fmt.Errorf("pipeline: %w", err)}
		}
	}
	return r, ctx.Err()
}

// reportNotWritten is Run's error when the build ran but its report could
// not be written: the summary must not name a report that is not there.
type reportNotWritten struct{ err error }

func (e *reportNotWritten) Error() string { return e.err.Error() }
func (e *reportNotWritten) Unwrap() error { return e.err }

type worker struct {
	opts     Options
	versions Versions
}

// run takes one spec through resolve, cache check, build, inspect and store.
func (w *worker) run(ctx context.Context, img compile.Image) (sr report.SpecReport) {
	start := time.Now()
	sr = report.SpecReport{Ref: img.Ref}
	for _, r := range img.Config.Contents.Repositories {
		if slices.Contains(w.opts.SyntheticRepositories, strings.TrimSuffix(r, "/")) {
			sr.Synthetic = true
		}
	}
	defer func() {
		if p := recover(); p != nil {
			sr.Status, sr.Error = report.StatusFailed, fmt.Sprintf("%s: panic: %v\n%s", img.Ref, p, debug.Stack())
		}
		sr.DurationMs = time.Since(start).Milliseconds()
	}()
	fail := func(err error) report.SpecReport {
		sr.Status, sr.Error = report.StatusFailed, err.Error()
		if ctx.Err() != nil {
			sr.Status = report.StatusCancelled
		}
		return sr
	}

	lock, err := w.opts.Builder.Resolve(ctx, img)
	if err != nil {
		return fail(withRef(img.Ref, "resolve", err))
	}
	adv, err := AdvisoriesDigest(w.opts.Advisories, lock)
	if err != nil {
		return fail(fmt.Errorf("%s: input digest: %w", img.Ref, err))
	}
	sr.InputDigest, err = w.opts.InputMemo.Digest(img, lock, w.versions, adv)
	if err != nil {
		return fail(fmt.Errorf("%s: input digest: %w", img.Ref, err))
	}
	if h, ok := w.opts.Store.Has(sr.InputDigest); ok {
		// The layout is not trusted for being there: every blob of the
		// cached image and its referrers must hash to its name.
		if err := w.opts.Store.Verify(h); err != nil {
			clog.FromContext(ctx).Warn("cached image is damaged; rebuilding", "ref", img.Ref, "image", h.String(), "error", err)
		} else if fs, err := w.storedFindings(h); err != nil {
			clog.FromContext(ctx).Warn("cached image has no readable findings; rebuilding", "ref", img.Ref, "error", err)
		} else if sr.Tests, err = w.storedTests(h); err != nil {
			clog.FromContext(ctx).Warn("cached image has no readable smoke tests; rebuilding", "ref", img.Ref, "error", err)
		} else {
			sr.Status, sr.ImageDigest, sr.Findings = report.StatusCached, h.String(), fs
			return sr
		}
	}
	if w.opts.Remote != nil {
		where, h, ok, err := w.opts.Remote.Lookup(ctx, img.Repository, sr.InputDigest)
		if err != nil {
			// The registry is a cache: when it cannot answer, build.
			clog.FromContext(ctx).Warn("registry cache lookup failed; building", "ref", img.Ref, "error", err)
		} else if ok {
			sr.Status, sr.ImageDigest, sr.CachedFrom = report.StatusCached, h.String(), where
			return sr
		}
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("%s: %w", img.Ref, err))
	}

	b, err := w.opts.Builder.Build(ctx, img, lock)
	if err != nil {
		return fail(withRef(img.Ref, "build", err))
	}
	if sr.Findings, err = inspectAll(ctx, img, b); err != nil {
		return fail(err)
	}
	if sr.Tests = w.smokeTests(ctx, img, b); len(sr.Tests) > 0 {
		sr.Findings = append(sr.Findings, smoke.Findings(img.Ref, sr.Tests)...)
		finding.Sort(sr.Findings)
	}
	if finding.CountFailing(sr.Findings) > 0 {
		return w.reject(ctx, img, b, sr)
	}
	refs, err := w.referrers(ctx, img, b, sr, true)
	if err != nil {
		return fail(err)
	}
	tags := make([]string, 0, len(img.Tags))
	for _, t := range img.Tags {
		tags = append(tags, img.Repository+":"+t)
	}
	desc, err := w.opts.Store.Put(ctx, store.Entry{SpecRef: img.Ref, Refs: tags, InputDigest: sr.InputDigest}, b.Index, refs...)
	if err != nil {
		return fail(err)
	}
	sr.Status, sr.ImageDigest = report.StatusBuilt, desc.Digest.String()
	return sr
}

// reject stores an image that failed a post-build check untagged and
// unsigned (store.PutRejected), so that it never takes a tag from the spec's
// good image, and reports the spec failed, naming the failing rules and
// where the image is.
func (w *worker) reject(ctx context.Context, img compile.Image, b *Built, sr report.SpecReport) report.SpecReport {
	var failing []string
	rules := map[string]bool{}
	var ruleList []string
	for _, f := range sr.Findings {
		if f.Failing() {
			failing = append(failing, f.Rule+": "+f.Message)
			if !rules[f.Rule] {
				rules[f.Rule] = true
				ruleList = append(ruleList, f.Rule)
			}
		}
	}
	fail := func(err error) report.SpecReport {
		sr.Status, sr.Error = report.StatusFailed, err.Error()
		if ctx.Err() != nil {
			sr.Status = report.StatusCancelled
		}
		return sr
	}
	refs, err := w.referrers(ctx, img, b, sr, false)
	if err != nil {
		return fail(err)
	}
	desc, err := w.opts.Store.PutRejected(ctx, img.Ref, "post-build checks failed: "+strings.Join(ruleList, ", "), b.Index, refs...)
	if err != nil {
		return fail(err)
	}
	prev := "the spec has no earlier image"
	if r, ok := w.opts.Store.Lookup(img.Ref); ok {
		prev = fmt.Sprintf("its earlier image %s keeps the tags", r.Descriptor.Digest)
	}
	sr.RejectedDigest = desc.Digest.String()
	return fail(fmt.Errorf("%s: post-build checks failed (%s): image %s is not tagged (kept unsigned in the layout, index.json entry annotated %s=%s); %s",
		img.Ref, strings.Join(failing, "; "), desc.Digest, store.AnnotationRejected, img.Ref, prev))
}

// inspectAll runs the post-build checks on every platform.
func inspectAll(ctx context.Context, img compile.Image, b *Built) ([]finding.Finding, error) {
	var all []finding.Finding
	for _, p := range b.Platforms {
		fsys := p.FS
		if fsys == nil {
			rfs, err := inspect.FromLayers(p.Image)
			if err != nil {
				return nil, fmt.Errorf("%s: inspect %s: %w", img.Ref, p.Platform, err)
			}
			fsys = rfs
		}
		pkgs, err := inspect.SBOMPackages(p.SBOM)
		if err != nil {
			return nil, fmt.Errorf("%s: inspect %s: %w", img.Ref, p.Platform, err)
		}
		fs, err := inspect.Check(ctx, inspect.Input{Image: img, Platform: p.Platform, FS: fsys, SBOM: pkgs})
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	finding.Sort(all)
	return all, nil
}

// referrers are the SBOMs (per platform and per index), the findings and
// the Attacher's referrers of a built spec.
func (w *worker) referrers(ctx context.Context, img compile.Image, b *Built, sr report.SpecReport, sign bool) ([]store.Referrer, error) {
	idxDesc, err := store.DescriptorOf(b.Index)
	if err != nil {
		return nil, fmt.Errorf("%s: index: %w", img.Ref, err)
	}
	arts := []store.Artifact{}
	if len(b.IndexSBOM) > 0 {
		arts = append(arts, store.Artifact{ArtifactType: ArtifactTypeSPDX, Subject: idxDesc, MediaType: ArtifactTypeSPDX, Data: b.IndexSBOM, Title: "sbom-index.spdx.json"})
	}
	for _, p := range b.Platforms {
		if len(p.SBOM) == 0 {
			continue
		}
		d, err := store.DescriptorOf(p.Image)
		if err != nil {
			return nil, fmt.Errorf("%s: %s image: %w", img.Ref, p.Platform, err)
		}
		arts = append(arts, store.Artifact{ArtifactType: ArtifactTypeSPDX, Subject: d, MediaType: ArtifactTypeSPDX, Data: p.SBOM,
			Title:       "sbom-" + strings.ReplaceAll(p.Platform, "/", "-") + ".spdx.json",
			Annotations: map[string]string{"dev.hic.platform": p.Platform}})
	}
	fj, err := json.Marshal(nonNil(sr.Findings))
	if err != nil {
		return nil, err
	}
	arts = append(arts, store.Artifact{ArtifactType: ArtifactTypeFindings, Subject: idxDesc, MediaType: "application/json", Data: fj, Title: "findings.json"})
	if len(sr.Tests) > 0 {
		tj, err := json.Marshal(smoke.Reproducible(sr.Tests))
		if err != nil {
			return nil, err
		}
		arts = append(arts, store.Artifact{ArtifactType: ArtifactTypeSmoke, Subject: idxDesc, MediaType: "application/json", Data: tj, Title: "smoke-tests.json"})
	}
	var out []store.Referrer
	for _, a := range arts {
		r, err := store.NewArtifact(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Ref, err)
		}
		out = append(out, r)
	}
	if w.opts.Attacher != nil && sign {
		ab, err := w.attestInput(img, b, sr)
		if err != nil {
			return nil, fmt.Errorf("%s: attest: %w", img.Ref, err)
		}
		more, err := w.opts.Attacher.Attach(ctx, img, ab)
		if err != nil {
			return nil, fmt.Errorf("%s: attest: %w", img.Ref, err)
		}
		out = append(out, more...)
	}
	return out, nil
}

// attestInput is what the Attacher is given of a built spec.
func (w *worker) attestInput(img compile.Image, b *Built, sr report.SpecReport) (attest.Built, error) {
	idx, err := subjectOf(img.Repository, b.Index)
	if err != nil {
		return attest.Built{}, fmt.Errorf("index: %w", err)
	}
	out := attest.Built{
		Image:       attest.Image{Index: idx, IndexSPDX: b.IndexSBOM},
		BuildDate:   b.BuildDate,
		InputDigest: sr.InputDigest,
		ApkoVersion: w.versions.Apko,
		Findings:    sr.Findings,
		Tests:       smoke.Reproducible(sr.Tests),
		Synthetic:   sr.Synthetic,
	}
	for _, p := range b.Platforms {
		s, err := subjectOf(img.Repository, p.Image)
		if err != nil {
			return attest.Built{}, fmt.Errorf("%s image: %w", p.Platform, err)
		}
		ap := attest.Platform{Platform: p.Platform, Manifest: s, SPDX: p.SBOM}
		for _, q := range p.Packages {
			pkg := attest.Package{Name: q.Name, Version: q.Version, Arch: q.Arch, Repository: q.Repository, Checksum: q.Checksum}
			if f, ok := p.Files[q.Name]; ok {
				pkg.FileDigest = f.Digest
				switch {
				case !f.Mirror:
					pkg.Source, pkg.DownloadURL = attest.SourceRepository, f.URL
				case slices.Contains(w.opts.SyntheticRepositories, strings.TrimSuffix(q.Repository, "/")):
					pkg.Source = attest.SourceSyntheticMirror
				default:
					pkg.Source = attest.SourceMirror
				}
			}
			ap.Packages = append(ap.Packages, pkg)
		}
		out.Image.Platforms = append(out.Image.Platforms, ap)
	}
	return out, nil
}

func subjectOf(name string, x store.Describable) (attest.Subject, error) {
	d, err := store.DescriptorOf(x)
	if err != nil {
		return attest.Subject{}, err
	}
	return attest.Subject{Name: name, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size}, nil
}

func nonNil(fs []finding.Finding) []finding.Finding {
	if fs == nil {
		return []finding.Finding{}
	}
	return fs
}

// storedFindings reads back the findings stored with a cached image.
func (w *worker) storedFindings(h v1.Hash) ([]finding.Finding, error) {
	b, err := w.storedArtifact(h, ArtifactTypeFindings, "findings")
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, errors.New("no findings stored")
	}
	var fs []finding.Finding
	if err := json.Unmarshal(b, &fs); err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, nil
	}
	return fs, nil
}

// storedArtifact returns the one layer of the first referrer of h with
// artifactType (what, in errors); nil when there is none.
func (w *worker) storedArtifact(h v1.Hash, artifactType, what string) ([]byte, error) {
	ds, err := w.opts.Store.Referrers(h, artifactType)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	mb, err := w.opts.Store.Blob(ds[0].Digest)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, err
	}
	if len(m.Layers) != 1 {
		return nil, fmt.Errorf("%s manifest %s has %d layers", what, ds[0].Digest, len(m.Layers))
	}
	return w.opts.Store.Blob(m.Layers[0].Digest)
}

// withRef names the spec and stage in err, unless the stage's own error
// already starts with the spec ref (resolve and build do): one ref per message.
func withRef(ref, stage string, err error) error {
	if strings.HasPrefix(err.Error(), ref+":") {
		return err
	}
	return fmt.Errorf("%s: %s: %w", ref, stage, err)
}

// RemoteCache finds the image a registry already holds for an input
// digest, without downloading it.
type RemoteCache interface {
	// Lookup returns where the image of inputDigest is (the registry
	// repository, for the report) and its digest, or ok false when the
	// registry has none for it.
	Lookup(ctx context.Context, repository, inputDigest string) (where string, digest v1.Hash, ok bool, err error)
}
