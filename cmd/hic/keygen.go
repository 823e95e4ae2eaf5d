package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/sign"
)

const keygenHelp = `Generate an ECDSA P-256 signing key pair for the catalog's attestations.

Writes DIR/hic.key, the private key (PKCS#8 PEM, mode 0600), and DIR/hic.pub,
the public key (PKIX PEM). Auditors verify with the public key, with hic verify
or with cosign (cosign verify --key hic.pub). To sign with cosign as well,
import the private key into cosign's format: cosign import-key-pair --key hic.key.

Existing key files are never overwritten unless --force is given. DIR must lie
outside the catalog root (exit 2 otherwise), so the private key is never
committed with the catalog.`

type keygenOptions struct {
	out    string
	force  bool
	format string
}

func newKeygenCmd(root *rootOptions) *cobra.Command {
	o := &keygenOptions{}
	cmd := &cobra.Command{
		Use:   "keygen [--out DIR] [--force] [-o text|json]",
		Short: "Generate a signing key pair (hic.key, hic.pub)",
		Long:  keygenHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.out == "" {
				return usageError("keygen: --out must not be empty")
			}
			if err := checkFormat(o.format, "text", "json"); err != nil {
				return usageError("keygen: %v (-o is --format, as on every command; the directory is --out DIR)", err)
			}
			if err := refuseInsideCatalog(root, "keygen", "--out", o.out, "the private key"); err != nil {
				return err
			}
			// A missing directory is made, private to its owner: it holds a key.
			if err := os.MkdirAll(o.out, 0o700); err != nil {
				return usageError("keygen: --out: %v", err)
			}
			if fi, err := os.Stat(o.out); err != nil {
				return usageError("keygen: --out: %v", err)
			} else if !fi.IsDir() {
				return usageError("keygen: --out %s is not a directory", o.out)
			}
			priv := filepath.Join(o.out, sign.PrivateKeyFile)
			pub := filepath.Join(o.out, sign.PublicKeyFile)
			k, err := sign.GenerateKey()
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			if err := sign.WriteKeyPair(k, priv, pub, o.force); err != nil {
				if errors.Is(err, sign.ErrKeyExists) {
					return usageError("keygen: %v (use --force to replace the key pair)", err)
				}
				return &exitError{code: exitFindings, err: fmt.Errorf("keygen: %w", err)}
			}
			id, err := sign.KeyID(&k.PublicKey)
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			w := cmd.OutOrStdout()
			if o.format == "json" {
				return writeJSON(w, struct {
					PrivateKey  string `json:"privateKey"`
					PublicKey   string `json:"publicKey"`
					KeyID       string `json:"keyId"`
					Fingerprint string `json:"fingerprint"`
				}{priv, pub, id[:16], "sha256:" + id})
			}
			fmt.Fprintf(w, "private key: %s\n", priv)
			fmt.Fprintf(w, "public key:  %s\n", pub)
			fmt.Fprintf(w, "key id:      %s\n", id[:16])
			fmt.Fprintf(w, "fingerprint: sha256:%s\n", id)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.out, "out", ".", "directory to write hic.key and hic.pub to")
	cmd.Flags().StringVarP(&o.format, "format", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&o.force, "force", false, "replace an existing key pair")
	return cmd
}
