package publish

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chainguard-dev/clog"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/hic-build/hic/compiler/sign"
)

// Options configure Publish. The zero value is ready to use; each field
// names its default.
type Options struct {
	// Keychain finds credentials for the registry. Default
	// authn.DefaultKeychain (the Docker config file and its helpers).
	Keychain authn.Keychain
	// Attempts bounds how often one request is sent. Default 6.
	Attempts int
	// Backoff is the wait before the second attempt; it doubles after each
	// failure up to MaxBackoff, with jitter. Default 500 ms.
	Backoff time.Duration
	// MaxBackoff caps one wait between attempts. Default 15 s. A registry's
	// Retry-After may ask for longer, up to a minute.
	MaxBackoff time.Duration
	// RequestTimeout bounds how long one request waits for the registry to
	// start answering once it has been sent. Default 2 minutes.
	RequestTimeout time.Duration
	// Jobs is how many blobs and manifests of one image are sent at once. Default 4.
	Jobs int
	// Images is how many images are published at once. Default 4.
	Images int
	// Transport is the HTTP transport under the retries. Default: a
	// transport with the proxy from the environment and RequestTimeout.
	Transport http.RoundTripper
	// Progress, if set, is called once after each image is published.
	Progress func(Event)
	// CheckTags makes the probe for images the registry holds whole send
	// one HEAD request per tag, so that a tag moved to another image in the
	// registry since it was pushed is put back; by default the tags are
	// read from the registry's tag list and only the input tag is sent a
	// HEAD request (see PublishImages).
	CheckTags bool
	// Signer, if set, signs each image for the repository it is pushed to
	// (REGISTRY/PREFIX/REPOSITORY as the signature's docker-reference), and
	// these signatures are pushed instead of the layout's, which name the
	// catalog repository. Before anything is pushed, every image's
	// attestations in the layout must verify with the signer's key, and an
	// image without any (built unsigned) is refused: the error is then a
	// *KeyRefusal naming them. Default: push the layout's signatures.
	Signer sign.Signer
}

// Event reports one published image.
type Event struct {
	// Ref is the first destination reference, REGISTRY/PREFIX/repository:tag.
	Ref string
	// Tags are all tags the image was pushed under.
	Tags []string
	// Digest is the digest of the image index.
	Digest v1.Hash
	// Referrers counts the referrer artifacts pushed with a subject.
	Referrers int
	// Signatures and Attestations count the layers in cosign's .sig and .att tags.
	Signatures, Attestations int
	// Withdrawn counts the attestation referrers deleted from the registry
	// because an attestation pushed now replaces them (withdrawSuperseded);
	// StaleKept those the registry refused to delete.
	Withdrawn, StaleKept int
	// Elapsed is the time spent on this image.
	Elapsed time.Duration
	// Unchanged says the registry already held the image whole (see
	// PublishImages): nothing was pushed.
	Unchanged bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Attempts == 0 {
		o.Attempts = 6
	}
	if o.Backoff == 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 15 * time.Second
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 2 * time.Minute
	}
	if o.Jobs == 0 {
		o.Jobs = 4
	}
	if o.Images == 0 {
		o.Images = 4
	}
	switch {
	case o.Attempts < 1:
		return o, fmt.Errorf("attempts must be at least 1, got %d", o.Attempts)
	case o.Backoff < 0 || o.MaxBackoff < o.Backoff:
		return o, fmt.Errorf("backoff %v and max backoff %v: want 0 <= backoff <= max", o.Backoff, o.MaxBackoff)
	case o.RequestTimeout < 0:
		return o, fmt.Errorf("request timeout must not be negative, got %v", o.RequestTimeout)
	case o.Jobs < 1:
		return o, fmt.Errorf("jobs must be at least 1, got %d", o.Jobs)
	case o.Images < 1:
		return o, fmt.Errorf("images must be at least 1, got %d", o.Images)
	}
	if o.Transport == nil {
		o.Transport = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   30 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   50,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: o.RequestTimeout,
		}
	}
	return o, nil
}

// Destination is a parsed REGISTRY/PREFIX.
type Destination struct {
	Registry name.Registry
	Prefix   string
	insecure bool
}

// RegistryOptions say which registries are spoken to over plain HTTP
// rather than HTTPS: registries on loopback addresses (localhost,
// 127.0.0.0/8, ::1) always, the hosts in InsecureHosts ("registry:5000", a
// CI service), or every registry with PlainHTTP. The zero value speaks HTTPS
// to every other registry.
type RegistryOptions struct {
	// InsecureHosts are registry hosts, "host" or "host:port", spoken to
	// over plain HTTP (hic's --insecure-registry, repeatable). A host
	// without a port matches it on every port.
	InsecureHosts []string
	// PlainHTTP speaks plain HTTP to every registry (hic's --plain-http).
	PlainHTTP bool
}

// Insecure reports whether the registry host (host[:port]) is spoken to
// over plain HTTP.
func (o RegistryOptions) Insecure(host string) bool {
	if o.PlainHTTP || isLoopback(host) {
		return true
	}
	bare := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		bare = h
	}
	for _, h := range o.InsecureHosts {
		if h == host || h == bare {
			return true
		}
	}
	return false
}

// NameOptions are the go-containerregistry name options for a reference
// or repository starting with a registry host ("registry:5000/hic/nginx").
func (o RegistryOptions) NameOptions(ref string) []name.Option {
	host, _, _ := strings.Cut(ref, "/")
	if o.Insecure(host) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// Validate checks the hosts of InsecureHosts.
func (o RegistryOptions) Validate() error {
	for _, h := range o.InsecureHosts {
		if h == "" || strings.ContainsAny(h, "/ ") || strings.Contains(h, "://") {
			return fmt.Errorf("insecure registry %q: want a host or host:port (registry:5000), without scheme or path", h)
		}
		if err := checkHost(h); err != nil {
			return fmt.Errorf("insecure registry: %w", err)
		}
	}
	return nil
}

// ParseDestination parses "REGISTRY[/PREFIX]" with the zero RegistryOptions:
// only registries on loopback addresses are spoken to over plain HTTP.
func ParseDestination(dst string) (Destination, error) {
	return RegistryOptions{}.ParseDestination(dst)
}

// ParseDestination parses "REGISTRY[/PREFIX]": a registry host[:port] and
// an optional repository prefix. Its errors name the part that is wrong
// and say how to write it.
func (o RegistryOptions) ParseDestination(dst string) (Destination, error) {
	if _, rest, ok := strings.Cut(dst, "://"); ok {
		return Destination{}, fmt.Errorf("destination %q: no scheme: give HOST[:PORT]/PREFIX (%s)", dst, rest)
	}
	host, prefix, _ := strings.Cut(strings.TrimSuffix(dst, "/"), "/")
	if host == "" {
		return Destination{}, fmt.Errorf("destination %q: no registry: give HOST[:PORT]/PREFIX (registry.example.org/hic)", dst)
	}
	if err := checkHost(host); err != nil {
		return Destination{}, fmt.Errorf("destination %q: %w", dst, err)
	}
	var nopts []name.Option
	insecure := o.Insecure(host)
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, append(nopts, name.StrictValidation)...)
	if err != nil {
		return Destination{}, fmt.Errorf("destination %q: registry %q is not a HOST[:PORT] (registry.example.org, 127.0.0.1:5000)", dst, host)
	}
	// The host must read as one where a reference starts: "p/jq" is the
	// Docker Hub repository p/jq to go-containerregistry (and docker), so
	// the host the user named would be dropped for index.docker.io.
	if !qualified(host) {
		return Destination{}, notQualified(dst, host)
	}
	if err := checkPrefix(host, prefix); err != nil {
		return Destination{}, fmt.Errorf("destination %q: %w", dst, err)
	}
	return Destination{Registry: reg, Prefix: prefix, insecure: insecure}, nil
}

// prefixComponent is one path component of a repository name, as the OCI
// distribution spec allows it.
var prefixComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// checkPrefix says what is wrong with the repository prefix ("hic",
// "org/images") of a destination on host, if anything.
func checkPrefix(host, prefix string) error {
	if prefix == "" {
		return nil
	}
	if i := strings.IndexAny(prefix, ":@"); i >= 0 {
		return fmt.Errorf("PREFIX %q names a tag or digest: give the repository prefix alone (%s/%s); each image keeps its own repository and tags below it", prefix, host, prefix[:i])
	}
	if lower := strings.ToLower(prefix); lower != prefix {
		return fmt.Errorf("PREFIX %q must be lower case (%s/%s)", prefix, host, lower)
	}
	for _, c := range strings.Split(prefix, "/") {
		if !prefixComponent.MatchString(c) {
			return fmt.Errorf("PREFIX %q: path component %q must be lower-case letters and digits, with '.', '_', '__' or dashes only between them", prefix, c)
		}
	}
	return nil
}

// Repository is the destination repository for a catalog repository name.
func (d Destination) Repository(repo string) (name.Repository, error) {
	var nopts []name.Option
	if d.insecure {
		nopts = append(nopts, name.Insecure)
	}
	// Strict: a registry the name does not keep (a Destination not made
	// by ParseDestination) is an error, never Docker Hub by default.
	r, err := name.NewRepository(d.Registry.Name()+"/"+path.Join(d.Prefix, repo), append(nopts, name.StrictValidation)...)
	if err != nil {
		return name.Repository{}, err
	}
	if r.RegistryStr() != d.Registry.RegistryStr() {
		return name.Repository{}, fmt.Errorf("destination %s: repository %s would go to registry %s", d, repo, r.RegistryStr())
	}
	return r, nil
}

func (d Destination) String() string { return path.Join(d.Registry.Name(), d.Prefix) }

func isLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Publish pushes the images of the layout at src (all of them, or those
// refs select, see FromLayout) to dst, "REGISTRY/PREFIX".
func Publish(ctx context.Context, src layout.Path, dst string, opts Options, refs ...string) error {
	d, err := ParseDestination(dst)
	if err != nil {
		return err
	}
	images, err := FromLayout(ctx, src, refs...)
	if err != nil {
		return err
	}
	return PublishImages(ctx, images, d, opts)
}

// PublishImages pushes images to d, opts.Images at a time, and stops at the
// first image that fails after its retries: no image is started after it.
//
// A layer that an earlier image of the same call put into another
// repository of the registry is mounted from there, not uploaded again.
//
// For each image it pushes, in this order: the index by digest (with its
// child manifests and blobs), its referrers (with their subject, so that
// the registry's referrers API lists them; on a registry without that API,
// such as distribution v3.1, go-containerregistry keeps the OCI referrers
// tag schema's index under the tag sha256-<hex> instead), cosign's sha256-<hex>.sig and
// .att tags for every subject that has signatures or attestations, and
// last the image's tags, so that a tag never names an image whose
// attestations are not there yet, and after them its input tag
// (InputTag), which so says the image went up whole.
//
// An image the registry holds whole already is not pushed again
// (Event.Unchanged): its input tag names its index, and each of its tags is
// in the registry's tag list (with CheckTags: names its index). That costs
// one tag list request per repository and one HEAD request per image (with
// CheckTags, one more per tag) instead of one per manifest, referrer and
// tag, and no read of its referrers in the layout. Its referrers and cosign
// tags are not looked at: they went up before the input tag. A registry that
// lost some since, or where a tag was moved to another image, is repaired
// by deleting the image's input tag (or, for a moved tag, CheckTags) and
// publishing again; hic verify REF against the registry finds such a loss.
// With a Signer every image is pushed, as its signatures are new.
func PublishImages(ctx context.Context, images []Image, d Destination, opts Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	rt := &retryTransport{inner: o.Transport, attempts: o.Attempts, base: o.Backoff, max: o.MaxBackoff}
	// go-containerregistry retries a whole blob upload (HEAD, POST, PATCH,
	// PUT) when a step fails with a temporary error; the transport below
	// retries single requests. The outer retries are few and skip errors
	// the transport already retried to the end.
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithTransport(rt),
		remote.WithJobs(o.Jobs),
		remote.WithUserAgent("hic"),
		remote.WithRetryPredicate(retryable),
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Duration: o.Backoff, Factor: 2, Jitter: 0.5, Steps: 3}),
	}
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	// The probe for images already there (unchanged) sends each request
	// once: a failing registry is retried by the push that follows.
	puller, err := remote.NewPuller(remote.WithContext(ctx), remote.WithAuthFromKeychain(o.Keychain),
		remote.WithTransport(o.Transport), remote.WithUserAgent("hic"), remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	// First, side by side, which images the registry holds whole already:
	// a request waits on the registry, not on this machine.
	var there []bool
	if o.Signer == nil {
		there = probe(ctx, puller, images, d, o.CheckTags)
	} else {
		there = make([]bool, len(images))
	}
	// The referrers of the images to push are read from the layout before
	// anything is pushed, so that a damaged layout stops the publish first.
	images = slices.Clone(images)
	for i := range images {
		if !there[i] {
			if err := images[i].ReadReferrers(ctx); err != nil {
				return fmt.Errorf("publish %s to %s: %w", images[i].Name(), d, err)
			}
		}
	}
	// Signing with a key is for images whose attestations are that key's.
	if o.Signer != nil {
		if err := checkSignedBy(ctx, o.Signer, images); err != nil {
			return err
		}
	}
	m := newMounts()
	// Images are published opts.Images at a time; after the first failure no
	// further image is started, and the first failure is returned.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Images)
	var progress sync.Mutex
	for i, img := range images {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			start := time.Now()
			var ev Event
			var err error
			if there[i] {
				ev, err = unchangedEvent(img, d)
			} else {
				ev, err = publishImage(gctx, pusher, ropts, m, img, d, o.Signer)
			}
			if err != nil {
				err = shortenURLs(err)
				var exhausted *retriesExhausted
				if n, spent := attemptsSpent(err); spent && !errors.As(err, &exhausted) {
					err = fmt.Errorf("%w (gave up after %d attempts)", err, n)
				}
				return fmt.Errorf("publish %s to %s: %w", img.Name(), d, err)
			}
			ev.Elapsed = time.Since(start)
			clog.FromContext(gctx).Info("published", "ref", ev.Ref, "digest", ev.Digest, "referrers", ev.Referrers, "elapsed", ev.Elapsed)
			if o.Progress != nil {
				progress.Lock()
				o.Progress(ev)
				progress.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return ctx.Err()
}

// probeJobs bounds the requests of the probe for images there already
// (below the transport's idle connections per host, so that they are kept
// alive between requests).
const probeJobs = 32

// probe reports, for each image, whether the registry holds it whole
// already: its input tag names its index and each of its tags is there.
//
// The tags come from the registry's tag list, one request per repository
// (more for a repository with many tags, as the registry pages it); then
// each image whose input tag and tags are all listed costs one HEAD request
// for the input tag. The input tag, named by the input digest that covers
// the spec with its tags, is pushed last, after the tags and referrers: if
// it names the index, the image went up whole with exactly these tags. A
// tag lost since (deleted) is missing from the list, and the image is pushed
// again. A tag moved since to another image is not seen unless checkTags
// (one HEAD per tag), or the tag list cannot be read; hic verify against
// the registry finds it (the tag check).
//
// Any error answers no for the images it concerns, and they are pushed as
// usual (which reports the error, if it persists).
func probe(ctx context.Context, p *remote.Puller, images []Image, d Destination, checkTags bool) []bool {
	there := make([]bool, len(images))
	type repoTags struct {
		repo     name.Repository
		tags     map[string]bool // nil: not listed
		headTags bool            // no tag list: one HEAD per tag
	}
	repos := map[string]*repoTags{}
	var order []*repoTags
	for _, img := range images {
		if _, ok := repos[img.Repository]; ok {
			continue
		}
		repo, err := d.Repository(img.Repository)
		if err != nil {
			continue
		}
		rt := &repoTags{repo: repo, headTags: checkTags}
		repos[img.Repository] = rt
		order = append(order, rt)
	}
	if !checkTags {
		var g errgroup.Group
		g.SetLimit(probeJobs)
		for _, rt := range order {
			g.Go(func() error {
				if ctx.Err() != nil {
					return nil
				}
				tags, err := p.List(ctx, rt.repo)
				var te *transport.Error
				switch {
				case err == nil:
				case errors.As(err, &te) && te.StatusCode == http.StatusNotFound && !unsupported(te):
					// A repository the registry does not know
					// (NAME_UNKNOWN): nothing of it is there.
					tags = []string{}
				case errors.As(err, &te) && te.StatusCode < 500 && te.StatusCode != http.StatusTooManyRequests:
					// The registry does not offer or allow the tag
					// list: one HEAD per tag instead.
					rt.headTags = true
					return nil
				default:
					// A failing registry: its images are pushed,
					// with the push's retries.
					return nil
				}
				rt.tags = make(map[string]bool, len(tags))
				for _, t := range tags {
					rt.tags[t] = true
				}
				return nil
			})
		}
		_ = g.Wait()
	}
	var g errgroup.Group
	g.SetLimit(probeJobs)
	for i, img := range images {
		rt := repos[img.Repository]
		input, ok := InputTag(img.InputDigest)
		if rt == nil || !ok || len(img.Tags) == 0 {
			continue
		}
		digest, err := img.Index.Digest()
		if err != nil {
			continue
		}
		at := func(tag string) bool {
			desc, err := p.Head(ctx, rt.repo.Tag(tag))
			return err == nil && desc.Digest == digest
		}
		switch {
		case rt.tags != nil:
			if !rt.tags[input] || slices.ContainsFunc(img.Tags, func(t string) bool { return !rt.tags[t] }) {
				continue
			}
			g.Go(func() error {
				there[i] = ctx.Err() == nil && at(input)
				return nil
			})
		case rt.headTags:
			// The input tag first (an image never published whole
			// costs one request), then each tag.
			g.Go(func() error {
				if ctx.Err() != nil || !at(input) {
					return nil
				}
				for _, tag := range img.Tags {
					if ctx.Err() != nil || !at(tag) {
						return nil
					}
				}
				there[i] = true
				return nil
			})
		}
	}
	_ = g.Wait()
	return there
}

// unsupported reports a registry's answer that it does not implement the
// request (distribution's UNSUPPORTED error code), as some registries
// answer a tag list they do not offer.
func unsupported(te *transport.Error) bool {
	for _, d := range te.Errors {
		if d.Code == transport.UnsupportedErrorCode {
			return true
		}
	}
	return false
}

func unchangedEvent(img Image, d Destination) (Event, error) {
	repo, err := d.Repository(img.Repository)
	if err != nil {
		return Event{}, err
	}
	digest, err := img.Index.Digest()
	if err != nil {
		return Event{}, fmt.Errorf("index digest: %w", err)
	}
	return Event{Ref: repo.Tag(img.Tags[0]).String(), Tags: append([]string(nil), img.Tags...), Digest: digest, Unchanged: true}, nil
}

func publishImage(ctx context.Context, p *remote.Pusher, ropts []remote.Option, m *mounts, img Image, d Destination, signer sign.Signer) (Event, error) {
	var ev Event
	if len(img.Tags) == 0 {
		return ev, errors.New("image has no tags")
	}
	repo, err := d.Repository(img.Repository)
	if err != nil {
		return ev, err
	}
	if signer != nil {
		if img.Referrers, err = destinationSignatures(ctx, signer, repo.Name(), img); err != nil {
			return ev, fmt.Errorf("sign for %s: %w", repo.Name(), err)
		}
	}
	digest, err := img.Index.Digest()
	if err != nil {
		return ev, fmt.Errorf("index digest: %w", err)
	}
	ev.Ref = repo.Tag(img.Tags[0]).String()
	ev.Tags = append([]string(nil), img.Tags...)
	ev.Digest = digest

	layers, err := indexLayers(img.Index)
	if err != nil {
		return ev, err
	}
	c, err := m.claim(ctx, layers)
	if err != nil {
		return ev, err
	}
	idx := &mountIndex{base: img.Index, to: repo, mounts: m}
	if err := p.Push(ctx, repo.Digest(digest.String()), idx); err != nil {
		m.release(c, nil, nil)
		return ev, fmt.Errorf("push index %s: %w", digest, err)
	}
	m.release(c, &repo, layers)
	for _, r := range img.Referrers {
		rd, err := r.Artifact.Digest()
		if err != nil {
			return ev, fmt.Errorf("referrer digest: %w", err)
		}
		if err := p.Push(ctx, repo.Digest(rd.String()), r.Artifact); err != nil {
			return ev, fmt.Errorf("push referrer %s of %s: %w", rd, r.Subject.Digest, err)
		}
		ev.Referrers++
	}
	if ev.Withdrawn, ev.StaleKept, err = withdrawSuperseded(repo, img.Referrers, append(ropts, remote.WithContext(ctx))); err != nil {
		return ev, fmt.Errorf("withdraw superseded attestations: %w", err)
	}
	sets, err := cosignSets(img.Referrers)
	if err != nil {
		return ev, err
	}
	for _, s := range sets {
		// The .sig tag first, then the .att tag.
		for _, c := range []struct {
			layers    []cosignLayer
			mediaType types.MediaType
			suffix    string
			what      string
			count     *int
		}{
			{s.signatures, MediaTypeSimpleSigning, "sig", "signatures", &ev.Signatures},
			{s.attestations, MediaTypeDSSE, "att", "attestations", &ev.Attestations},
		} {
			if len(c.layers) == 0 {
				continue
			}
			img, err := cosignImage(c.layers, c.mediaType)
			if err != nil {
				return ev, fmt.Errorf("%s of %s: %w", c.what, s.subject, err)
			}
			tag := repo.Tag(CosignTag(s.subject, c.suffix))
			if err := p.Push(ctx, tag, img); err != nil {
				return ev, fmt.Errorf("push %s: %w", tag.TagStr(), err)
			}
			*c.count += len(c.layers)
		}
	}
	for _, t := range img.Tags {
		if err := p.Push(ctx, repo.Tag(t), img.Index); err != nil {
			return ev, fmt.Errorf("tag %s: %w", t, err)
		}
	}
	// Last: the input tag says the image is there whole, signatures and
	// attestations included, for builds that look it up (RegistryCache).
	if t, ok := InputTag(img.InputDigest); ok {
		if err := p.Push(ctx, repo.Tag(t), img.Index); err != nil {
			return ev, fmt.Errorf("tag %s: %w", t, err)
		}
	}
	return ev, nil
}

// retryable is the predicate for go-containerregistry's own retries:
// temporary registry errors and broken connections, but not what the
// transport has already retried to its limit. go-containerregistry retries
// a blob upload whole, from a new upload session, so a blob the registry
// refuses as not matching its digest is retried too: when a chunk's answer
// was lost and the transport sent the chunk again, the registry may have
// appended it twice.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if transientError(err) {
		return true
	}
	if _, spent := attemptsSpent(err); spent {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Temporary() || slices.ContainsFunc(te.Errors, func(d transport.Diagnostic) bool {
			return d.Code == transport.DigestInvalidErrorCode || d.Code == transport.BlobUploadInvalidErrorCode
		})
	}
	return false
}

// shortenURLs drops the query of URLs in err's chain: upload locations carry
// long state tokens that say nothing to a person.
func shortenURLs(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ue, ok := e.(*url.Error); ok {
			if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
				u.RawQuery = ""
				ue.URL = u.String()
			}
		}
	}
	return err
}
