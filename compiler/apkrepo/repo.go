package apkrepo

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	"golang.org/x/sync/errgroup"
)

// IndexDescription is the DESCRIPTION entry of every APKINDEX written here.
const IndexDescription = "hic generated repository"

// Repository describes what WriteRepository wrote.
type Repository struct {
	// Dir is the repository root: pass it to apko as a repository
	// (build.WithExtraBuildRepos) and apko reads Dir/<arch>/APKINDEX.tar.gz.
	Dir string
	// KeyPath is Dir/keys/<name>.rsa.pub: pass it to build.WithExtraKeys.
	KeyPath string
	// Archs holds the architectures with an index, sorted.
	Archs []string
	// Packages lists every package written, sorted by arch, name, version.
	Packages []BuiltPackage
}

// BuiltPackage is one .apk file of a Repository.
type BuiltPackage struct {
	Name, Version, Arch string
	Path                string // Dir/<arch>/<name>-<version>.apk
	Size                int64  // bytes of the .apk file
	// Checksum is the index "C:" value: "Q1" + base64(SHA-1 of the control
	// section), what a resolver must check a fetched package against.
	Checksum string
}

// IndexPath returns the path of the APKINDEX.tar.gz of arch.
func (r *Repository) IndexPath(arch string) string {
	return filepath.Join(r.Dir, arch, "APKINDEX.tar.gz")
}

// WriteRepository builds pkgs in parallel (at most GOMAXPROCS at a time) and
// writes dir/<arch>/<name>-<version>.apk, a signed dir/<arch>/APKINDEX.tar.gz
// for each arch present in pkgs, and the public key at
// dir/keys/<key name>.rsa.pub. Other files in dir are left alone. The same
// pkgs and key give byte-identical files; the order of pkgs does not matter.
// Two packages with the same arch, name and version are an error.
//
// apko caches parsed indexes per process by path and modification time, so
// a long-running process that rewrites a repository in place may see the
// old index; write to a fresh directory instead.
func WriteRepository(ctx context.Context, dir string, key *Key, pkgs []Package) (*Repository, error) {
	if key == nil {
		return nil, fmt.Errorf("write repository %s: nil key", dir)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("write repository %s: no packages", dir)
	}
	start := time.Now()
	seen := make(map[string]bool, len(pkgs))
	for _, p := range pkgs {
		id := p.String()
		if seen[id] {
			return nil, fmt.Errorf("write repository %s: duplicate package %s", dir, id)
		}
		seen[id] = true
		if !validArch(p.Arch) {
			return nil, fmt.Errorf("write repository %s: package %s: invalid apk arch %q", dir, id, p.Arch)
		}
	}

	repo := &Repository{Dir: dir}
	keyDir := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keyDir, 0o755); err != nil {
		return nil, fmt.Errorf("write repository: %w", err)
	}
	pub, err := key.PublicKeyPEM()
	if err != nil {
		return nil, fmt.Errorf("write repository %s: %w", dir, err)
	}
	repo.KeyPath = filepath.Join(keyDir, key.PublicKeyFileName())
	if err := writeFileMode(repo.KeyPath, pub, 0o644); err != nil {
		return nil, fmt.Errorf("write repository: %w", err)
	}
	for _, p := range pkgs {
		if !slices.Contains(repo.Archs, p.Arch) {
			repo.Archs = append(repo.Archs, p.Arch)
		}
	}
	slices.Sort(repo.Archs)
	for _, a := range repo.Archs {
		if err := os.MkdirAll(filepath.Join(dir, a), 0o755); err != nil {
			return nil, fmt.Errorf("write repository: %w", err)
		}
	}

	parsed := make([]*apk.Package, len(pkgs))
	repo.Packages = make([]BuiltPackage, len(pkgs))
	// A fixed pool of workers, each reusing one builder.
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(pkgs)) {
		g.Go(func() error {
			b := newBuilder()
			for i := int(next.Add(1) - 1); i < len(pkgs); i = int(next.Add(1) - 1) {
				if err := gctx.Err(); err != nil {
					return err
				}
				ap, bp, err := writePackage(gctx, b, dir, key, pkgs[i])
				if err != nil {
					return err
				}
				parsed[i], repo.Packages[i] = ap, bp
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("write repository %s: %w", dir, err)
	}
	slices.SortFunc(repo.Packages, func(a, b BuiltPackage) int {
		return cmp.Or(cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})

	b := newBuilder()
	for _, arch := range repo.Archs {
		if err := writeIndex(b, repo.IndexPath(arch), key, arch, parsed); err != nil {
			return nil, fmt.Errorf("write repository %s: %w", dir, err)
		}
	}
	slog.DebugContext(ctx, "apk repository written", "dir", dir, "packages", len(pkgs),
		"archs", repo.Archs, "elapsed", time.Since(start))
	return repo, nil
}

// writePackage builds p and writes it to dir/<arch>/<name>-<version>.apk.
func writePackage(ctx context.Context, b *builder, dir string, key *Key, p Package) (*apk.Package, BuiltPackage, error) {
	a, err := b.build(p, key)
	if err != nil {
		return nil, BuiltPackage{}, err
	}
	fn := filepath.Join(dir, p.Arch, p.Name+"-"+p.Version+".apk")
	if err := writeFile(fn, a.writeTo); err != nil {
		return nil, BuiltPackage{}, fmt.Errorf("package %s: %w", p, err)
	}
	// apko reads the index entry from the signature and control streams.
	ap, err := apk.ParsePackage(ctx, io.MultiReader(bytes.NewReader(a.sig), bytes.NewReader(a.control)), uint64(a.size()))
	if err != nil {
		return nil, BuiltPackage{}, fmt.Errorf("package %s: parse back: %w", p, err)
	}
	return ap, BuiltPackage{
		Name: p.Name, Version: p.Version, Arch: p.Arch, Path: fn,
		Size: int64(a.size()), Checksum: ap.ChecksumString(),
	}, nil
}

// writeFile creates path (mode 0644) with what write writes.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeIndex writes the signed APKINDEX.tar.gz of arch.
func writeIndex(b *builder, path string, key *Key, arch string, all []*apk.Package) error {
	var pkgs []*apk.Package
	var newest time.Time
	for _, p := range all {
		if p.Arch != arch {
			continue
		}
		pkgs = append(pkgs, p)
		if p.BuildTime.After(newest) {
			newest = p.BuildTime
		}
	}
	slices.SortFunc(pkgs, func(a, b *apk.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
	r, err := apk.ArchiveFromIndex(&apk.APKIndex{Description: IndexDescription, Packages: pkgs})
	if err != nil {
		return fmt.Errorf("index %s: %w", arch, err)
	}
	idx, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("index %s: %w", arch, err)
	}
	sig, err := b.signatureSegment(key, idx, newest)
	if err != nil {
		return fmt.Errorf("index %s: %w", arch, err)
	}
	if err := os.WriteFile(path, append(sig, idx...), 0o644); err != nil {
		return fmt.Errorf("index %s: %w", arch, err)
	}
	return nil
}
