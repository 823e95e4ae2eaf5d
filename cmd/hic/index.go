package main

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/apkindex"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/schema"
)

func newIndexCmd(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Maintain the package universes the catalog is checked against",
	}
	cmd.AddCommand(newIndexImportCmd(root))
	return cmd
}

type indexImportOptions struct {
	keys         []string
	fingerprints []string
	archs        []string
	date         string
	from         string
	out          string
	wolfiGit     string
	rev          string
	removed      bool
}

const indexImportLong = `Import reads signed APKINDEX.tar.gz files, verifies their signatures and
writes the distro's package universe (CATALOG/universe/DISTRO.txt), which
hic vet, hic mirror and hic bump read.

Each LOCATION is an APK repository URL (the index of every --arch is fetched
from URL/ARCH/APKINDEX.tar.gz), or a local APKINDEX.tar.gz file, optionally
prefixed by the repository it came from: URL=FILE. Without LOCATION the
distro's repositories from the schema are fetched. The architecture of a
file comes from the packages it lists.

Every index must carry a signature by one of the --key files (RSA over SHA-1
as Alpine signs, or RSA256 as melange signs Wolfi) that verifies: a changed,
unsigned or foreign-signed index is refused and nothing is written. Key
files fetched by URL must be pinned with --fingerprint (the sha256 of the
DER public key, as "openssl pkey -pubin -outform DER | sha256sum" prints).

Refreshing keeps what indexes do not say (files, install scripts) from the
existing universe, and keeps packages that left the repository as removed.`

func newIndexImportCmd(root *rootOptions) *cobra.Command {
	o := &indexImportOptions{}
	cmd := &cobra.Command{
		Use:   "import DISTRO [[URL=]LOCATION...]",
		Short: "Import a distro's signed APK indexes into its package universe",
		Long:  indexImportLong,
		Example: `  hic index import alpine-3.23 --key alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub
  hic index import wolfi https://packages.wolfi.dev/os=x86_64/APKINDEX.tar.gz --key wolfi-signing.rsa.pub`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			distro, locations := args[0], args[1:]
			tables, err := schema.LoadTables()
			if err != nil {
				return err
			}
			if !slices.Contains(tables.Distros, distro) {
				return usageError("unknown distro %q (the schema has %s)", distro, strings.Join(tables.Distros, ", "))
			}
			if o.date != "" {
				if _, err := time.Parse(time.DateOnly, o.date); err != nil {
					return usageError("--date %q: want YYYY-MM-DD", o.date)
				}
			}
			for _, fp := range o.fingerprints {
				if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+64 {
					return usageError("--fingerprint %q: want sha256:<64 hex digits>", fp)
				}
			}
			if o.wolfiGit != "" {
				return importWolfiSource(cmd, root, distro, locations, o)
			}
			client := &http.Client{Timeout: 2 * time.Minute}
			if len(locations) == 0 {
				repos, err := distroRepositories(distro)
				if err != nil {
					return usageError("%v", err)
				}
				locations = repos
			}
			keys := map[string][]byte{}
			for _, k := range o.keys {
				if strings.Contains(k, "://") && len(o.fingerprints) == 0 {
					return usageError("--key %s is fetched from the network: pin it with --fingerprint", k)
				}
				b, err := universe.Fetch(ctx, client, k)
				if err != nil {
					return usageError("--key: %v", err)
				}
				keys[path.Base(k)] = b
			}
			kr, err := apkindex.NewKeyring(keys, o.fingerprints)
			if err != nil {
				return usageError("%v", err)
			}
			var indexes []apkindex.Index
			for _, loc := range locations {
				repo, file, isFile := strings.Cut(loc, "=")
				if !isFile {
					repo, file = "", loc
				}
				if strings.Contains(file, "://") {
					// A repository URL: one index per arch.
					for _, a := range o.archs {
						u := universe.IndexURL(file, a)
						b, err := universe.Fetch(ctx, client, u)
						if err != nil {
							return err
						}
						indexes = append(indexes, apkindex.Index{Source: universe.SourceName(file), URL: strings.TrimSuffix(file, "/"), Location: u, Data: b})
					}
					continue
				}
				b, err := universe.Fetch(ctx, client, file)
				if err != nil {
					return usageError("%v", err)
				}
				name := "main"
				if repo != "" {
					name = universe.SourceName(repo)
				}
				indexes = append(indexes, apkindex.Index{Source: name, URL: repo, Location: file, Data: b})
			}
			out := o.out
			if out == "" {
				out = universe.Dir(root.catalog)
			}
			prev, err := universe.ReadDir(out, distro)
			if err != nil && !errors.Is(err, universe.ErrNotExist) {
				return err
			}
			u, ch, err := apkindex.Import(apkindex.ImportOptions{Distro: distro, Keys: kr, Date: o.date, From: o.from, Previous: prev}, indexes)
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			if err := universe.WriteDir(out, u); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, s := range u.Sources {
				archs := slices.Sorted(maps.Keys(s.Indexes))
				for _, a := range archs {
					fmt.Fprintf(w, "%s %s/%s: %s, signed by %s\n", distro, s.Name, a, s.Indexes[a], s.Signer)
				}
			}
			fmt.Fprintf(w, "%s: %d packages (snapshot %s)", distro, len(u.Packages), u.Sources[0].Date)
			if prev != nil {
				fmt.Fprintf(w, ": %d added, %d updated, %d removed", len(ch.Added), len(ch.Updated), len(ch.Removed))
			}
			where := filepath.Join(out, distro+universe.Ext)
			if _, err := os.Stat(where); err != nil {
				where = filepath.Join(out, distro) + string(filepath.Separator)
			}
			fmt.Fprintf(w, "; wrote %s\n", where)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&o.keys, "key", nil, "public key file (or https URL, with --fingerprint) the indexes are signed with; repeatable")
	cmd.Flags().StringSliceVar(&o.fingerprints, "fingerprint", nil, "pin the keys: sha256:HEX of each trusted key's DER public key; repeatable")
	cmd.Flags().StringSliceVar(&o.archs, "arch", []string{"x86_64", "aarch64"}, "architectures fetched from repository URLs")
	cmd.Flags().StringVar(&o.date, "date", "", "snapshot date (YYYY-MM-DD); default: the day of the newest package build")
	cmd.Flags().StringVar(&o.from, "from", "", "record where the indexes were built from, when not the distro itself (e.g. examples/hellorepo)")
	cmd.Flags().StringVar(&o.out, "out", "", "universe directory (default CATALOG/universe)")
	addWolfiSourceFlags(cmd, o)
	return cmd
}

// distroRepositories reads the repository URLs of a distro from the schema.
func distroRepositories(distro string) ([]string, error) {
	v, err := schema.Evaluate(cuecontext.New())
	if err != nil {
		return nil, err
	}
	d := v.LookupPath(cue.ParsePath(schema.DistrosPath)).LookupPath(cue.MakePath(cue.Str(distro)))
	if !d.Exists() {
		return nil, fmt.Errorf("schema: no distro %q", distro)
	}
	var repos []string
	if err := d.LookupPath(cue.ParsePath("repositories")).Decode(&repos); err != nil {
		return nil, fmt.Errorf("schema: distro %s: repositories: %w", distro, err)
	}
	return slices.Clip(repos), nil
}
