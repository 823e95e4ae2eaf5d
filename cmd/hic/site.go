package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/plan"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/site"
)

type siteOptions struct {
	out       string
	build     string
	reports   []string
	registry  string
	publicKey string
	today     string
}

const siteLong = `Site writes the static HTML catalog auditors read: index.html (every spec,
with search and filters by category, distro, variant and end-of-life status),
a page per spec under images/ (streams and variants, tags, digests per
platform, the SBOM's packages with versions and licenses, the hardening
checklist with every waiver and its reason, post-build findings, smoke tests,
the attestations with the cosign and hic commands that verify them, the
OpenVEX statements, the compiled spec) and catalog.json for machines.

It reads the catalog (--catalog), the build's OCI layout (BUILD/oci, under
its shared lock, as hic publish reads it) and its report (BUILD/report.json,
or every --report given: the shard reports of a sharded build, merged as hic
report merge does). The site needs no network and works opened from the file
system.

Every blob the site reads from the layout is checked against its digest; a
damaged one is named on its image's page, and nothing of it is shown. With
--key, every attestation's signature is verified with the key, and the
hardening report and OpenVEX statements are shown only from verified
envelopes, labelled "Signed (verified with key …)"; without --key they are
shown as attached, their signatures not checked (hic verify checks them).

An image whose provenance records another compiled spec than the catalog's
now (internalParameters.compiledSpecDigest) is of an earlier version of its
spec: its page and the index say "built from an earlier version of this
spec; run hic build", not "built".`

func newSiteCmd(root *rootOptions) *cobra.Command {
	o := &siteOptions{}
	cmd := &cobra.Command{
		Use:   "site",
		Short: "Write the static HTML catalog of the catalog and a build",
		Long:  siteLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			today, err := parseToday(o.today)
			if err != nil {
				return err
			}
			// Without a build the site shows the catalog alone; a build
			// asked for by name must be there.
			if cmd.Flags().Changed("build") {
				if fi, err := os.Stat(o.build); err != nil || !fi.IsDir() {
					return usageError("site: --build %s is not a build's output directory (hic build --out DIR)", o.build)
				}
			}
			if o.out == "" {
				o.out = filepath.Join(o.build, "site")
			}
			// With --key the attestations' signatures are verified with it;
			// without, the key is only named in the commands shown.
			var verifier *sign.Verifier
			if cmd.Flags().Changed("key") {
				if verifier, err = loadVerifier(root, "site", o.publicKey); err != nil {
					return err
				}
			}
			oci := filepath.Join(o.build, "oci")
			if fi, err := os.Stat(oci); err == nil && fi.IsDir() {
				lock, err := lockForReading("site", oci)
				if err != nil {
					return err
				}
				defer lock.Release()
			}
			rep, err := o.report()
			if err != nil {
				return err
			}
			l, err := loadOrFail(cmd, root, today)
			if err != nil {
				return err
			}
			imgs, err := compile.All(l.catalog.Specs)
			if err != nil {
				return err
			}
			sum, err := site.Write(cmd.Context(), o.out, site.Input{
				Images: imgs, Report: rep, Layout: oci, Today: today,
				Registry: o.registry, PublicKey: o.publicKey, Verifier: verifier, LayoutName: oci,
			})
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(sum.Index)
			stale := ""
			if sum.Stale > 0 {
				stale = fmt.Sprintf(", %d of them from an earlier version of their spec: run hic build", sum.Stale)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "site: %d specs of %d images (%d built%s) in %s\nopen file://%s\n", sum.Specs, sum.Images, sum.Built, stale, o.out, abs)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "write the site into DIR (default BUILD/site)")
	cmd.Flags().StringVar(&o.build, "build", "out", "the build's output directory (hic build --out): its oci/ layout and report.json")
	cmd.Flags().StringSliceVar(&o.reports, "report", nil, "build report(s) to show, merged when several (default BUILD/report.json)")
	cmd.Flags().StringVar(&o.registry, "registry", "", "registry prefix the images are published to, for the verify commands shown")
	cmd.Flags().StringVar(&o.publicKey, "key", "hic.pub", "public key: verify the attestations' signatures with it, and name it in the verify commands shown (default hic.pub, named only)")
	cmd.Flags().StringVar(&o.today, "today", "", "judge end-of-life against this date (YYYY-MM-DD) instead of today")
	return cmd
}

// report is the build report: the --report files merged, else
// BUILD/report.json when there is one, else none.
func (o *siteOptions) report() (*report.Report, error) {
	paths := o.reports
	if len(paths) == 0 {
		p := filepath.Join(o.build, "report.json")
		if _, err := os.Stat(p); err != nil {
			return nil, nil
		}
		paths = []string{p}
	}
	var srcs []plan.Source
	for _, p := range paths {
		r, err := report.ReadReport(p)
		if err != nil {
			return nil, usageError("read report: %v", err)
		}
		srcs = append(srcs, plan.Source{Name: p, Report: r})
	}
	if len(srcs) == 1 {
		return srcs[0].Report, nil
	}
	merged, err := plan.Merge(srcs)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return merged, nil
}
