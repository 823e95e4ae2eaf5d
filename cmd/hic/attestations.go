package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hic-build/hic/compiler/verify"
)

const attestationsLong = `Attestations lists an image's signed statements, the index's and every
platform manifest's: the SLSA provenance, the SPDX and CycloneDX SBOMs, the
hardening report and the OpenVEX document. Each envelope is verified with the
public key (--key or HIC_PUBLIC_KEY) and must be about the manifest it is
attached to; one that is not is listed with the reason, never written, and
the exit status is 1. The index's statements must name the repository REF
names: a tag moved to another repository's image, signatures and all, is
refused (exit 1) and nothing is written, as hic verify's tag check fails it. An image with no attestations is exit 1 too, as in
hic verify and cosign verify-attestation: one built --unsigned is said to be
unsigned. So is a --type none of the image's attestations has.

With --out DIR the verified statements are written as files, with the
documents they carry beside them:

  DIR/index.provenance.intoto.json      the SLSA provenance statement
  DIR/linux-amd64.spdx.intoto.json      a platform's SPDX statement ...
  DIR/linux-amd64.spdx.json             ... and the SPDX document itself
  DIR/linux-amd64.cdx.json              the CycloneDX SBOM
  DIR/index.hardening.json              the hardening report
  DIR/index.openvex.json                the OpenVEX document

--type keeps some types: provenance, spdx, cyclonedx, hardening, vex (or a
predicate type URI); repeatable or comma-separated.

REF is read as hic verify reads it: a spec ref or image ref in the OCI layout
(--layout, under its shared lock), a ref below --registry REGISTRY/PREFIX, or
a full registry reference.

` + registriesHelp

type attestationsOptions struct {
	imageFlags
	key    string
	types  []string
	out    string
	format string
}

func newAttestationsCmd(root *rootOptions) *cobra.Command {
	o := &attestationsOptions{}
	cmd := &cobra.Command{
		Use:   "attestations REF [--key pub.pem] [--type T] [--out DIR] [--layout out/oci | --registry REGISTRY/PREFIX] [-o text|json]",
		Short: "List and download an image's signed SBOMs, provenance, hardening report and VEX, verified",
		Long:  attestationsLong,
		Example: `  hic attestations nginx:latest --key out/keys/hic.pub
  hic attestations nginx:latest --key out/keys/hic.pub --type spdx --out sboms`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, root, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.key, "key", "", "public key: a PKIX PEM file (hic.pub) or the PEM itself; env HIC_PUBLIC_KEY")
	f.StringSliceVar(&o.types, "type", nil, "keep only these types: "+strings.Join(verify.AttestationTypes(), ", ")+" (repeatable)")
	f.StringVar(&o.out, "out", "", "write the verified statements and their documents into DIR")
	f.StringVarP(&o.format, "format", "o", formatText, "output format: text or json")
	o.imageFlags.addFlags(f)
	// --output-dir, as cosign and oras spell it, is --out.
	f.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "output-dir" {
			name = "out"
		}
		return pflag.NormalizedName(name)
	})
	return cmd
}

func (o *attestationsOptions) run(cmd *cobra.Command, root *rootOptions, ref string) error {
	if err := o.imageFlags.check(cmd, ref); err != nil {
		return err
	}
	if err := checkFormat(o.format, formatText, formatJSON); err != nil {
		return usageError("attestations: %v", err)
	}
	if cmd.Flags().Changed("out") && o.out == "" {
		return usageError("attestations: --out is empty: give a directory")
	}
	v, err := loadVerifier(root, "attestations", o.key)
	if err != nil {
		return err
	}
	cat := &catalogSpecs{root: root, cmd: cmd}
	src, target, release, err := o.imageFlags.source(cmd, cat, ref)
	if err != nil {
		return err
	}
	defer release()
	list, err := verify.Attestations(cmd.Context(), src, target, verify.AttestationsOptions{Verifier: v, Types: o.types, Dir: o.out})
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, verify.ErrNoImage) || errors.Is(err, verify.ErrBadReference) || errors.Is(err, verify.ErrUnknownType):
		return usageError("attestations: %v", err)
	case err != nil:
		return &exitError{code: exitFindings, err: fmt.Errorf("attestations: %w", err)}
	}
	refused := 0
	for _, a := range list {
		if a.Error != "" {
			refused++
		}
	}
	w := cmd.OutOrStdout()
	if o.format == formatJSON {
		if list == nil {
			list = []verify.Attestation{}
		}
		if err := writeJSON(w, list); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tSUBJECT\tFOUND IN\tFILES")
		for _, a := range list {
			files := strings.TrimSpace(a.Statement + " " + a.Document)
			if a.Error != "" {
				files = "REFUSED: " + a.Error
			}
			fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\n", a.Type, a.Platform, shortDigest(a.Subject), longHex.ReplaceAllStringFunc(a.Where, func(h string) string { return h[:12] + "…" }), files)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		verified := count(len(list)-refused, "attestation")
		switch {
		case len(list) == 0:
			// Attestations errs for an image with none at all: this
			// is a --type that none of them has.
			fmt.Fprintf(w, "no attestations of %s%s\n", ref, typesNote(o.types))
		case refused > 0:
			fmt.Fprintf(w, "%s verified with key %s, %d refused\n", verified, shortKey(v.KeyID()), refused)
		default:
			fmt.Fprintf(w, "%s verified with key %s\n", verified, shortKey(v.KeyID()))
		}
	}
	if refused > 0 || len(list) == 0 {
		return &exitError{code: exitFindings}
	}
	return nil
}

// longHex is a full digest's hex, shortened in the table.
var longHex = regexp.MustCompile(`[0-9a-f]{64}`)

func typesNote(types []string) string {
	if len(types) == 0 {
		return ""
	}
	return " of type " + strings.Join(types, ", ")
}

// shortDigest is sha256:<12 hex digits>.
func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

// shortKey is a key id as hic's messages give it (16 hex digits).
func shortKey(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}
