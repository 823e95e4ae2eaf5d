package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/publish"
	"github.com/hic-build/hic/compiler/sign"
)

const publishHelp = `Push images from the OCI layout to a registry.

Every image in the layout (or only those REF names: repository:tag, a
repository for all its tags, or a spec ref) is pushed to
REGISTRY/PREFIX/<repository>:<tag> for each of its tags, with its
attestations and signatures: as OCI 1.1 referrers (manifests with a subject)
and in the tag form cosign reads (sha256-<digest>.att and .sig), so that

  cosign verify --key hic.pub --insecure-ignore-tlog REGISTRY/PREFIX/REPO:TAG

succeeds. On a registry without the OCI referrers API (distribution v3 and
older registries) the referrers are also listed in the referrers tag schema's
index, under the tag sha256-<digest> of their subject; registries with the
API get no such tags. An attestation pushed replaces the registry's earlier
ones of its predicate type about the same image or platform manifest (an
advisory changed, and the VEX document with it): they are deleted, from the
referrers tag too, so the referrers never hold two documents that disagree,
as cosign attest --replace does for its .att tag; a registry that refuses
deletes keeps them, and hic verify names any that disagree. Blobs and
manifests the registry already has are not sent again. An image already there whole (its hic-input-<hex> tag names it,
and the registry's tag list has each of its tags) is not pushed again: one
tag list per repository and one request per image. --check-tags also sends
one request per tag, to put back a tag moved to another image since (hic
verify against the registry finds one). Failed requests (5xx, 429, broken connections, timeouts) are
retried with backoff; then publish stops with an error and exit status 1.

With --key (or HIC_SIGNING_KEY), each image is signed for the repository it
is pushed to (REGISTRY/PREFIX/<repository> in the signature's
docker-reference) and these signatures replace the layout's, which name only
the catalog repository: policy engines that check the signed identity
(containers/image's matchRepository in podman, CRI-O and skopeo) need them.
The layout's attestations are pushed as they are, so before anything is
pushed each image's attestations are verified with the key: an image whose
attestations another key signed is refused (exit 2), as is one built
--unsigned, which has none (signing it would vouch for an image hic did not
attest). Without --key the layout's own signatures are pushed, each image
with those of the key that built it.

The images of specs no longer in the catalog (-C) are never pushed:
publishing everything skips each one with a note on stderr, and a REF that
selects one is refused (exit 2) before anything is pushed, as a REF that
selects nothing is. hic gc --prune removes them from the layout.

The layout is read under its lock, shared: publishes, verifies and other
readers may read it at once, but a layout a build or hic gc holds is refused at
once (exit 2), naming the process, and neither starts while the publish
runs, so no image is pushed half-written or with blobs removed under it. A
read-only layout is read with the lock file opened for reading, or without a
lock where it cannot be opened.

` + registriesHelp

type publishOptions struct {
	layout    string
	attempts  int
	timeout   time.Duration
	jobs      int
	key       string
	checkTags bool
	report    string
	registry  registryFlags
	format    string // hic publish only
}

func (o *publishOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.layout, "layout", "out/oci", "OCI image layout to publish from")
	cmd.Flags().StringVar(&o.report, "report", "", "build report whose failing specs are refused (default: report.json next to the layout)")
	cmd.Flags().IntVar(&o.attempts, "attempts", 6, "attempts per request before giving up")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long one request waits for the registry to answer")
	cmd.Flags().IntVarP(&o.jobs, "jobs", "j", 4, "blobs and manifests sent at once")
	cmd.Flags().StringVar(&o.key, "key", "", "sign each image for its destination with this private key (env HIC_SIGNING_KEY)")
	cmd.Flags().BoolVar(&o.checkTags, "check-tags", false, "check that each tag of an image already there names it (one request per tag), and put back a tag moved since")
	o.registry.addFlags(cmd.Flags())
}

func (o *publishOptions) validate() error {
	switch {
	case o.attempts < 1:
		return usageError("publish: --attempts must be at least 1")
	case o.timeout <= 0:
		return usageError("publish: --timeout must be positive")
	case o.jobs < 1:
		return usageError("publish: --jobs must be at least 1")
	}
	if fi, err := os.Stat(o.layout); err != nil {
		return usageError("publish: --layout: %v", err)
	} else if !fi.IsDir() {
		return usageError("publish: --layout %s is not a directory", o.layout)
	}
	return nil
}

func newPublishCmd(opts *rootOptions) *cobra.Command {
	o := &publishOptions{}
	cmd := &cobra.Command{
		Use:   "publish [--layout out/oci] REGISTRY/PREFIX [REF...]",
		Short: "Push images, signatures and attestations from the layout to a registry",
		Long:  publishHelp,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst, err := o.registry.destination("publish", args[0])
			if err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			if err := checkFormat(o.format, formatText, formatJSON); err != nil {
				return usageError("publish: %v", err)
			}
			key := o.key
			if key == "" {
				key = opts.getenv("HIC_SIGNING_KEY")
			}
			var signer sign.Signer
			if key != "" {
				if signer, err = sign.LoadSigner(key); err != nil {
					return usageError("publish: signing key: %v", err)
				}
			}
			// Held until every blob is pushed: a gc or build beside the
			// push would remove or replace them.
			lock, err := lockForReading("publish", o.layout)
			if err != nil {
				return err
			}
			defer lock.Release()
			ctx := cmd.Context()
			images, err := publish.FromLayout(ctx, layout.Path(o.layout), args[1:]...)
			if err != nil {
				return usageError("publish: %v", err)
			}
			if images, err = inCatalog(cmd, opts, images, args[1:]); err != nil {
				return err
			}
			// A spec whose last build failed is not published, not even
			// its earlier image: the report says it needs attention.
			rep, repPath, err := publishReport(o.report, o.layout)
			if err != nil {
				return err
			}
			if rep != nil {
				why := rep.FailingSpecs()
				var refused []string
				for _, img := range images {
					if _, bad := why[img.SpecRef]; bad && !slices.Contains(refused, img.SpecRef) {
						refused = append(refused, img.SpecRef)
					}
				}
				if len(refused) > 0 {
					return refusal("publish", repPath, refused, why)
				}
			}
			w := cmd.OutOrStdout()
			unchanged := 0
			type pushed struct {
				Ref          string   `json:"ref"`
				Digest       string   `json:"digest"`
				Unchanged    bool     `json:"unchanged,omitempty"` // the registry held it whole
				Tags         []string `json:"tags"`
				Referrers    int      `json:"referrers"`
				Signatures   int      `json:"signatures"`
				Attestations int      `json:"attestations"`
				Milliseconds int64    `json:"ms"`
			}
			var (
				mu  sync.Mutex
				res = struct {
					Destination string   `json:"destination"`
					Images      []pushed `json:"images"`
				}{Destination: args[0], Images: []pushed{}}
			)
			if o.format == formatJSON {
				w = io.Discard
			}
			popts := publish.Options{
				Attempts:       o.attempts,
				RequestTimeout: o.timeout,
				Jobs:           o.jobs,
				CheckTags:      o.checkTags,
				Signer:         signer,
				Progress: func(ev publish.Event) {
					mu.Lock()
					defer mu.Unlock()
					res.Images = append(res.Images, pushed{ev.Ref, ev.Digest.String(), ev.Unchanged, ev.Tags, ev.Referrers, ev.Signatures, ev.Attestations, ev.Elapsed.Milliseconds()})
					if ev.Unchanged {
						unchanged++
						fmt.Fprintf(w, "unchanged %s@%s: the registry holds it whole (%s)\n", ev.Ref, ev.Digest, ev.Elapsed.Round(time.Millisecond))
						return
					}
					fmt.Fprintf(w, "pushed %s@%s", ev.Ref, ev.Digest)
					if len(ev.Tags) > 1 {
						fmt.Fprintf(w, " tags %s", strings.Join(ev.Tags, ","))
					}
					fmt.Fprintf(w, " referrers %d signatures %d attestations %d (%s)\n",
						ev.Referrers, ev.Signatures, ev.Attestations, ev.Elapsed.Round(time.Millisecond))
				},
			}
			if err := publish.PublishImages(ctx, images, dst, popts); err != nil {
				if errors.Is(err, context.Canceled) {
					return err
				}
				// --key over attestations by another key, or over none:
				// refused before anything is pushed.
				var kr *publish.KeyRefusal
				if errors.As(err, &kr) {
					return usageError("publish: %v", err)
				}
				return &exitError{code: exitFindings, err: err}
			}
			fmt.Fprintf(w, "published %s to %s", count(len(images), "image"), dst)
			if unchanged > 0 {
				fmt.Fprintf(w, " (%d already there, unchanged)", unchanged)
			}
			fmt.Fprintln(w)
			if o.format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return nil
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVarP(&o.format, "format", "o", formatText, "output format: text or json")
	return cmd
}
