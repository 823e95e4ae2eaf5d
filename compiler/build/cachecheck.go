package build

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // APK control checksums are SHA-1
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"chainguard.dev/apko/pkg/apk/expandapk"
	"chainguard.dev/apko/pkg/build/types"
	"github.com/chainguard-dev/clog"

	"github.com/hic-build/hic/compiler/gunzip"
	"github.com/hic-build/hic/compiler/resolve"
)

// verifyPackageCache checks, before apko reads them, the entries of apko's
// package cache for every locked package: the control segment must hash to
// the lock's checksum (the signed index's), the data segment to the name
// apko gave it (its data hash), and the uncompressed data to the
// decompressed data segment. apko trusts an entry by its name, for a
// package of a mirror as for one it fetched. An entry that does not pass is
// named in the log and removed, so apko expands the package again from the
// verified mirror file or fetches it again (and it is then checked as it
// arrives). A missing entry is first looked for under the other mirror
// paths (others, see otherStates and adoptEntry). It returns the entries it
// removed.
//
// checked remembers, for the process, the entries checked and those absent
// when first asked for: apko then makes them from a checked package, and
// keeps what it read of them in memory for the rest of the process. Its
// EntryMemo, if any, remembers the entries checked good across processes.
func verifyPackageCache(ctx context.Context, ref, cacheDir string, src *resolve.Sources, others []string, lock *resolve.Lock, archs []types.Architecture, checked *PackageChecks) ([]string, error) {
	var removed []string
	for _, arch := range archs {
		for _, p := range lock.Packages(arch) {
			if err := ctx.Err(); err != nil {
				return removed, err
			}
			dir, err := cacheEntry(cacheDir, src, p, arch)
			if err != nil {
				return removed, fmt.Errorf("%s: package cache: %w", ref, err)
			}
			err = checked.entry(dir, func() error {
				// The mirror file's signature segment is read only when an
				// entry is adopted or checked, not for one the memo knows.
				var sig []byte
				sigRead, sigKnown := false, false
				signature := func() {
					if !sigRead {
						sig, sigKnown = mirrorSignature(src, p, arch)
						sigRead = true
					}
				}
				if _, err := os.Stat(dir); err != nil {
					if len(others) == 0 {
						return nil // apko makes it from the verified mirror file or a checked fetch
					}
					if signature(); !sigKnown || !adoptEntry(cacheDir, others, p, arch, dir, sig) {
						return nil
					}
				}
				memo := checked.entryMemo()
				state, stateOK := entryState(dir, p)
				if stateOK && memo.known(state) {
					return nil
				}
				signature()
				if checked != nil && checked.onCheck != nil {
					checked.onCheck(dir)
				}
				why, err := checkCachedPackage(dir, p, sig, sigKnown)
				if err != nil {
					return fmt.Errorf("%s: package cache %s: %w", ref, dir, err)
				}
				if why == "" {
					// Remembered only if nothing changed while it was read.
					if after, ok := entryState(dir, p); stateOK && ok && after == state {
						memo.add(state)
					}
					return nil
				}
				clog.FromContext(ctx).Warn("package cache entry altered: removed, expanding or fetching the package again",
					"ref", ref, "package", p.String(), "repository", p.Repository, "entry", dir, "why", why)
				if err := os.RemoveAll(dir); err != nil {
					return fmt.Errorf("%s: package cache %s is altered (%s) and cannot be removed: %w", ref, dir, why, err)
				}
				removed = append(removed, dir)
				return nil
			})
			if err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// otherStates returns the versioned mirror paths under links (see
// versionedSources) other than those of now: earlier states of the
// mirrors, or other mirrors. A mirror with one package added is a new path
// for apko, whose package cache entries under another path adoptEntry can
// then move.
func otherStates(links string, mirrors []resolve.Mirror, now *resolve.Sources) ([]string, error) {
	ents, err := os.ReadDir(links)
	if err != nil {
		return nil, nil // none
	}
	cur := map[string]bool{}
	for _, m := range mirrors {
		if d, ok := now.MirrorDir(m.URL); ok {
			cur[d] = true
		}
	}
	var out []string
	for _, e := range ents {
		if l := filepath.Join(links, e.Name()); !cur[l] && e.Type()&fs.ModeSymlink != 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// adoptEntry makes dst, the missing entry of package p of arch, a copy by
// hard links of an entry apko expanded under another mirror path (others)
// that holds p's locked control segment, if there is one, and reports
// whether it did. The entry it copies stays, for the builds that read it.
// apko would expand the package again; checking the moved entry (which
// must follow) costs a fraction of that. An entry whose data does not
// match its control segment fails the check and is removed, and apko
// expands the mirror's file.
func adoptEntry(cacheDir string, others []string, p resolve.Package, arch types.Architecture, dst string, sig []byte) bool {
	from, ok := otherEntry(cacheDir, others, p, arch, sig)
	if !ok {
		return false
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".adopt-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(tmp)
	if err := linkTree(from, filepath.Join(tmp, "e")); err != nil {
		return false
	}
	return os.Rename(filepath.Join(tmp, "e"), dst) == nil
}

// otherEntry returns the entry of package p of arch under another mirror
// path (others) that holds p's locked control segment and sig, its
// signature segment (nil: none), if there is one. The same control segment
// signed by another key (another mirror's package, or the package signed
// again) is another package file: apko records a package's size, which
// the signature is part of, in the image.
func otherEntry(cacheDir string, others []string, p resolve.Package, arch types.Architecture, sig []byte) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p.Checksum, "Q1"))
	if err != nil {
		return "", false
	}
	ctl := hex.EncodeToString(raw) + ".ctl.tar.gz"
	for _, l := range others {
		from := filepath.Join(cacheDir, url.QueryEscape((&url.URL{Scheme: "file", Path: l}).String()), arch.ToAPK(), p.Name+"-"+p.Version)
		if _, err := os.Lstat(filepath.Join(from, ctl)); err != nil {
			continue
		}
		got, err := os.ReadFile(filepath.Join(from, strings.TrimSuffix(ctl, ".ctl.tar.gz")+".sig.tar.gz"))
		if (err == nil && bytes.Equal(got, sig) && sig != nil) || (errors.Is(err, fs.ErrNotExist) && sig == nil) {
			return from, true
		}
	}
	return "", false
}

// linkTree copies the tree at from to to: directories made, symbolic links
// made with the same targets, regular files hard-linked.
func linkTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, dst)
		case d.Type().IsRegular():
			return os.Link(p, dst)
		default:
			return fmt.Errorf("%s: not a file, directory or link", p)
		}
	})
}

// cacheEntry is the directory of apko's package cache that holds package p
// of arch: named after the repository as apko reads it (the mirror
// directory as a file URL, or the repository URL), the architecture and
// the package's name and version.
func cacheEntry(cacheDir string, src *resolve.Sources, p resolve.Package, arch types.Architecture) (string, error) {
	repo := strings.TrimSuffix(p.Repository, "/")
	if dir, ok := src.MirrorDir(p.Repository); ok {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		repo = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	return filepath.Join(cacheDir, url.QueryEscape(repo), arch.ToAPK(), p.Name+"-"+p.Version), nil
}

// mirrorSignature returns the signature segment (nil: none) of the mirror
// file of package p of arch, and whether p comes from a mirror whose file
// could be read.
func mirrorSignature(src *resolve.Sources, p resolve.Package, arch types.Architecture) ([]byte, bool) {
	dir, ok := src.MirrorDir(p.Repository)
	if !ok {
		return nil, false
	}
	f, err := os.Open(filepath.Join(dir, arch.ToAPK(), p.Name+"-"+p.Version+".apk"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	parts, err := expandapk.Split(bufio.NewReaderSize(f, 1<<14))
	if err != nil {
		return nil, false
	}
	if len(parts) < 3 {
		return nil, true
	}
	sig, err := io.ReadAll(parts[0])
	return sig, err == nil
}

// checkCachedPackage says what is wrong with one cache entry, or "". The
// data segment is read once: hashed as it is and as it decompresses, for
// its name and for the uncompressed data beside it. With sigKnown, the
// signature segment must be sig (the mirror file's; nil: none), as apko
// takes the package's size from the entry's files.
func checkCachedPackage(dir string, p resolve.Package, sig []byte, sigKnown bool) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p.Checksum, "Q1"))
	if err != nil || !strings.HasPrefix(p.Checksum, "Q1") {
		return "", fmt.Errorf("locked checksum %q is not Q1+base64", p.Checksum)
	}
	ctl := hex.EncodeToString(raw)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	if sigKnown {
		got, err := os.ReadFile(filepath.Join(dir, ctl+".sig.tar.gz"))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// apko moves the signature into place before the data: an
			// entry with data and no signature was made so, or edited.
			if sig != nil && slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), ".dat.tar.gz") }) {
				return "the signature segment is missing", nil
			}
		case err != nil:
			return "", err
		case !bytes.Equal(got, sig):
			return fmt.Sprintf("%s.sig.tar.gz is not the mirror file's signature segment", ctl), nil
		}
	}
	for _, e := range ents {
		name := e.Name()
		full := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".ctl.tar.gz"):
			if strings.TrimSuffix(name, ".ctl.tar.gz") != ctl {
				return fmt.Sprintf("%s is not the locked control segment %s", name, ctl), nil
			}
			if sum, err := fileSum(full, sha1.New()); err != nil { //nolint:gosec
				return "", err
			} else if sum != ctl {
				return fmt.Sprintf("%s hashes to %s: the control segment was edited", name, sum), nil
			}
		case strings.HasSuffix(name, ".dat.tar.gz"):
			want := strings.TrimSuffix(name, ".dat.tar.gz")
			var sum, data string
			if names[want+".dat.tar"] {
				sum, data, err = gunzipSums(full)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Sprintf("%s: %v", name, err), nil
				}
			} else {
				sum, err = fileSum(full, sha256.New())
			}
			if err != nil {
				return "", err
			}
			if sum != want {
				return fmt.Sprintf("%s hashes to %s: the data segment was edited", name, sum), nil
			}
			if data == "" {
				continue
			}
			tarSum, err := fileSum(strings.TrimSuffix(full, ".gz"), sha256.New())
			if err != nil {
				return "", err
			}
			if tarSum != data {
				return fmt.Sprintf("%s is not the decompressed data segment: it was edited", want+".dat.tar"), nil
			}
		case strings.HasSuffix(name, ".dat.tar"):
			if !names[name+".gz"] {
				return fmt.Sprintf("%s has no data segment to check it against", name), nil
			}
		}
	}
	return "", nil
}

func fileSum(path string, h hash.Hash) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// gunzipSums returns the sha256 of the gzip file path and of its
// decompressed content, from one read.
func gunzipSums(path string) (compressed, data string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	hz := sha256.New()
	zr, err := gunzip.NewReader(io.TeeReader(f, hz))
	if err != nil {
		return "", "", err
	}
	defer zr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return "", "", err
	}
	// The compressed hash covers the whole file, trailing bytes included.
	if _, err := io.Copy(hz, f); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(hz.Sum(nil)), hex.EncodeToString(h.Sum(nil)), nil
}

// entryFileDigest returns the digest ("sha256:<hex>") of the .apk file of
// package p that apko's package cache entry dir was expanded from, or ""
// when the entry does not hold it whole. An .apk is its signature, control
// and data gzip segments one after another, and an entry holds each as the
// file carried it (<control sha1>.sig.tar.gz, <control sha1>.ctl.tar.gz,
// <data hash>.dat.tar.gz), so their concatenation is the file's bytes. It is
// hashed only for a package apko did not fetch in this build (its digest
// is then at hand, see verifier), and only if the control segment is the
// locked one and the data segment hashes to the data hash that control
// segment declares: the digest is that of the file with the locked
// contents, or none.
func entryFileDigest(dir string, p resolve.Package) string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p.Checksum, "Q1"))
	if err != nil || !strings.HasPrefix(p.Checksum, "Q1") {
		return ""
	}
	ctl := hex.EncodeToString(raw)
	control, err := os.ReadFile(filepath.Join(dir, ctl+".ctl.tar.gz"))
	if err != nil {
		return ""
	}
	if sum := sha1.Sum(control); hex.EncodeToString(sum[:]) != ctl { //nolint:gosec // APK control checksum
		return ""
	}
	info, err := pkginfo(control)
	if err != nil || info["datahash"] == "" {
		return ""
	}
	whole := sha256.New()
	switch sig, err := os.ReadFile(filepath.Join(dir, ctl+".sig.tar.gz")); {
	case err == nil:
		whole.Write(sig)
	case !errors.Is(err, fs.ErrNotExist):
		return ""
	}
	whole.Write(control)
	data := sha256.New()
	f, err := os.Open(filepath.Join(dir, info["datahash"]+".dat.tar.gz"))
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := io.Copy(io.MultiWriter(whole, data), f); err != nil {
		return ""
	}
	if hex.EncodeToString(data.Sum(nil)) != info["datahash"] {
		return ""
	}
	return "sha256:" + hex.EncodeToString(whole.Sum(nil))
}
