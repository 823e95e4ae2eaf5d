package apkindex

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha1" //nolint:gosec // apk-tools' legacy RSA index signatures are over SHA-1
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"chainguard.dev/apko/pkg/apk/apk"
	"chainguard.dev/apko/pkg/apk/signature"
	"github.com/hic-build/hic/compiler/universe"
)

// Keyring holds the public keys an index may be signed by, each by the key
// file name apk-tools signs with ("alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub").
type Keyring struct {
	keys map[string][]byte // name -> PEM
	fps  map[string]string // name -> fingerprint
}

// KeyFingerprint is the fingerprint of a PEM public key: "sha256:" and the
// hex SHA-256 of its DER SubjectPublicKeyInfo, as
// `openssl pkey -pubin -outform DER | sha256sum` prints it.
func KeyFingerprint(pemKey []byte) (string, error) {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return "", errors.New("not a PEM public key")
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return "", fmt.Errorf("not a public key: %w", err)
	}
	sum := sha256.Sum256(block.Bytes)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// NewKeyring trusts keys (file name -> PEM). When pinned is not empty,
// every key's fingerprint must be one of pinned: a key that is not is an
// error, so a swapped key file is refused before any index is read.
func NewKeyring(keys map[string][]byte, pinned []string) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no signing keys given: pass the .rsa.pub files the repository signs its index with")
	}
	k := &Keyring{keys: map[string][]byte{}, fps: map[string]string{}}
	for name, b := range keys {
		if strings.ContainsAny(name, "/\\") || !strings.HasSuffix(name, ".rsa.pub") {
			return nil, fmt.Errorf("key %q: want a file name ending in .rsa.pub (the name the index's signature refers to)", name)
		}
		fp, err := KeyFingerprint(b)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", name, err)
		}
		if len(pinned) > 0 && !slices.Contains(pinned, fp) {
			return nil, fmt.Errorf("key %s has fingerprint %s, which is not pinned (pinned: %s)", name, fp, strings.Join(pinned, ", "))
		}
		k.keys[name], k.fps[name] = b, fp
	}
	return k, nil
}

// Names lists the trusted key names, sorted.
func (k *Keyring) Names() []string {
	out := make([]string, 0, len(k.keys))
	for n := range k.keys {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var sigEntry = regexp.MustCompile(`^\.SIGN\.(RSA|RSA256|RSA512|DSA)\.(.+)$`)

// VerifiedIndex is an APKINDEX.tar.gz whose signature verified.
type VerifiedIndex struct {
	// Signer is the name of the key whose signature verified.
	Signer string
	// Algorithm is "RSA" (PKCS#1 v1.5 over SHA-1, Alpine) or "RSA256" (over SHA-256, melange/Wolfi).
	Algorithm string
	// Digest is "sha256:" and the hex SHA-256 of the whole file.
	Digest string
	// Description is the index's DESCRIPTION (Alpine: the aports commit, "v3.23.0-123-gabcdef").
	Description string
	Packages    []*apk.Package
}

// VerifyIndex checks that data, an APKINDEX.tar.gz, carries a signature by
// a key of k that verifies over the rest of the file, and parses what was
// signed. An index without such a signature is refused, and so is one with
// a signature by a trusted key that does not verify: a changed byte
// anywhere after the signature fails it.
func VerifyIndex(data []byte, k *Keyring) (*VerifiedIndex, error) {
	br := bytes.NewReader(data)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("not a gzip APKINDEX: %w", err)
	}
	zr.Multistream(false)
	tr := tar.NewReader(zr)
	type sig struct{ alg, key string }
	var sigs []sig
	values := map[sig][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("signature segment: %w", err)
		}
		m := sigEntry.FindStringSubmatch(h.Name)
		if m == nil {
			return nil, fmt.Errorf("index is not signed: its first segment holds %q, not a .SIGN.* entry", h.Name)
		}
		v, err := io.ReadAll(io.LimitReader(tr, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("signature segment: %w", err)
		}
		s := sig{m[1], m[2]}
		sigs = append(sigs, s)
		values[s] = v
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, fmt.Errorf("signature segment: %w", err)
	}
	if len(sigs) == 0 {
		return nil, errors.New("index is not signed")
	}
	signed := data[len(data)-br.Len():]
	out := &VerifiedIndex{}
	var unknown []string
	for _, s := range sigs {
		pemKey, ok := k.keys[s.key]
		if !ok {
			unknown = append(unknown, s.key)
			continue
		}
		var h crypto.Hash
		var digest []byte
		switch s.alg {
		case "RSA":
			d := sha1.Sum(signed) //nolint:gosec // apk-tools' legacy scheme
			h, digest = crypto.SHA1, d[:]
		case "RSA256":
			d := sha256.Sum256(signed)
			h, digest = crypto.SHA256, d[:]
		default:
			return nil, fmt.Errorf("signature .SIGN.%s.%s: algorithm %s is not supported (want RSA or RSA256)", s.alg, s.key, s.alg)
		}
		if err := signature.RSAVerifyDigest(digest, h, values[s], pemKey); err != nil {
			return nil, fmt.Errorf("signature by %s (%s) does not verify: the index was changed after signing or signed by another key: %w", s.key, k.fps[s.key], err)
		}
		if out.Signer == "" {
			out.Signer, out.Algorithm = s.key, s.alg
		}
	}
	if out.Signer == "" {
		return nil, fmt.Errorf("index is signed by %s, none of them trusted (trusted: %s)", strings.Join(unknown, ", "), strings.Join(k.Names(), ", "))
	}
	idx, err := apk.IndexFromArchive(io.NopCloser(bytes.NewReader(signed)))
	if err != nil {
		return nil, fmt.Errorf("signed index content: %w", err)
	}
	if len(idx.Packages) == 0 {
		return nil, errors.New("signed index lists no packages")
	}
	sum := sha256.Sum256(data)
	out.Digest = "sha256:" + hex.EncodeToString(sum[:])
	out.Description = strings.TrimSpace(idx.Description)
	out.Packages = idx.Packages
	return out, nil
}

// Index is one APKINDEX.tar.gz to import.
type Index struct {
	// Source is the @source name the packages go under ("main", "community", "os").
	Source string
	// URL is the repository URL the index belongs to (recorded, not fetched).
	URL string
	// Location is where it was read from, for messages.
	Location string
	Data     []byte
}

// ImportOptions configures Import.
type ImportOptions struct {
	// Distro is the schema's distro name.
	Distro string
	// Keys verify every index.
	Keys *Keyring
	// Date is the snapshot date (YYYY-MM-DD); empty means the day of the
	// newest build time in the indexes.
	Date string
	// From is recorded as every source's From: the source repository the
	// indexes were built from, when that is not the distro's own.
	From string
	// Previous is the universe being refreshed, if any: its annotations
	// that indexes do not carry (files, scripts, script files) are kept for
	// packages still present, and its packages that are gone are kept as
	// removed (removed=Date).
	Previous *universe.Universe
}

// Changes summarises what an import changed against the previous universe.
type Changes struct {
	Added, Removed, Updated []string
}

// Import verifies every index and builds the universe they describe: one
// package per name with every version any index lists, the union of the
// architectures, and the dependencies and provides of the newest version
// (on the first architecture by name that has it: so: provides of a libc
// name the architecture).
// A package's provides versioned with its own version ("cmd:httpd=2.4.65-r0")
// are written without it; the mirror adds it back.
func Import(opts ImportOptions, indexes []Index) (*universe.Universe, *Changes, error) {
	if opts.Keys == nil {
		return nil, nil, errors.New("import: no keys")
	}
	if len(indexes) == 0 {
		return nil, nil, errors.New("import: no indexes given")
	}
	type entry struct {
		pkg  *apk.Package
		arch string
	}
	newest := map[string]entry{}
	versions := map[string][]string{}
	archs := map[string]map[string]bool{}
	sourceOf := map[string]string{}
	allArchs := map[string]bool{}
	var sources []universe.Source
	var latest time.Time
	for _, ix := range indexes {
		v, err := VerifyIndex(ix.Data, opts.Keys)
		if err != nil {
			return nil, nil, fmt.Errorf("index %s: %w", ix.Location, err)
		}
		name := ix.Source
		if name == "" {
			name = "main"
		}
		si := slices.IndexFunc(sources, func(s universe.Source) bool { return s.Name == name })
		if si < 0 {
			sources = append(sources, universe.Source{Name: name, URL: ix.URL, Indexes: map[string]string{}})
			si = len(sources) - 1
		}
		src := &sources[si]
		if src.URL != ix.URL {
			return nil, nil, fmt.Errorf("index %s: source %s is %s, but another index of it is from %s", ix.Location, name, ix.URL, src.URL)
		}
		arch := ""
		for _, p := range v.Packages {
			switch {
			case p.Arch == "noarch" || p.Arch == arch:
			case arch == "":
				arch = p.Arch
			default:
				return nil, nil, fmt.Errorf("index %s lists packages of two architectures (%s, %s)", ix.Location, arch, p.Arch)
			}
		}
		if arch == "" {
			arch = "noarch"
		}
		if _, dup := src.Indexes[arch]; dup {
			return nil, nil, fmt.Errorf("index %s: source %s has two indexes for %s", ix.Location, name, arch)
		}
		src.Indexes[arch] = v.Digest
		allArchs[arch] = true
		if src.Signer == "" || src.Signer == v.Signer {
			src.Signer = v.Signer
		} else if !strings.Contains(src.Signer, v.Signer) {
			src.Signer += "+" + v.Signer
		}
		if c := describeCommit(v.Description); c != "" {
			src.Commit = c
		}
		for _, p := range v.Packages {
			if p.BuildTime.After(latest) {
				latest = p.BuildTime
			}
			if prev, ok := sourceOf[p.Name]; ok && prev != name {
				return nil, nil, fmt.Errorf("index %s: package %s is in both %s and %s", ix.Location, p.Name, prev, name)
			}
			sourceOf[p.Name] = name
			if archs[p.Name] == nil {
				archs[p.Name] = map[string]bool{}
			}
			archs[p.Name][arch] = true
			versions[p.Name] = append(versions[p.Name], p.Version)
			// Real indexes hold versions apko's parser refuses
			// (Alpine's aspell-ru 0.99f7-r0): they are kept, ordered
			// as SortVersions orders them.
			// Of equal versions, the first architecture's (by name) wins,
			// whatever the order of the indexes.
			e, ok := newest[p.Name]
			switch {
			case !ok:
				newest[p.Name] = entry{p, arch}
			case p.Version == e.pkg.Version:
				if arch < e.arch {
					newest[p.Name] = entry{p, arch}
				}
			case universe.SortVersions([]string{p.Version, e.pkg.Version})[0] == p.Version:
				newest[p.Name] = entry{p, arch}
			}
		}
	}
	date := opts.Date
	if date == "" && !latest.IsZero() {
		date = latest.UTC().Format(time.DateOnly)
	}
	for i := range sources {
		sources[i].Date = date
		sources[i].From = opts.From
	}
	u := &universe.Universe{Distro: opts.Distro, Sources: sources}
	for a := range allArchs {
		u.Archs = append(u.Archs, a)
	}
	sort.Strings(u.Archs)
	for name, ent := range newest {
		e := ent.pkg
		p := universe.Package{
			Name:     name,
			Versions: universe.SortVersions(versions[name]),
			Origin:   e.Origin,
			Depends:  sorted(e.Dependencies),
			Provides: stripOwnVersion(e.Provides, e.Version),
		}
		if p.Origin == name {
			p.Origin = ""
		}
		if sourceOf[name] != sources[0].Name {
			p.Source = sourceOf[name]
		}
		if len(archs[name]) != len(u.Archs) {
			for a := range archs[name] {
				p.Archs = append(p.Archs, a)
			}
			sort.Strings(p.Archs)
		}
		u.Packages = append(u.Packages, p)
	}
	sort.Slice(u.Packages, func(i, j int) bool { return u.Packages[i].Name < u.Packages[j].Name })
	ch := &Changes{}
	if opts.Previous != nil {
		u.Packages = mergePrevious(u, opts.Previous, date, ch)
	}
	return u, ch, nil
}

// describeCommit is the commit `git describe` output names ("v3.16.3-13-g4d933a1fa3" -> "4d933a1fa3").
func describeCommit(desc string) string {
	i := strings.LastIndex(desc, "-g")
	if i < 0 || strings.ContainsAny(desc, " \t") {
		return ""
	}
	c := desc[i+2:]
	if _, err := hex.DecodeString(c + strings.Repeat("0", len(c)%2)); err != nil || len(c) < 7 {
		return ""
	}
	return c
}

func stripOwnVersion(provides []string, version string) []string {
	out := make([]string, 0, len(provides))
	for _, p := range provides {
		out = append(out, strings.TrimSuffix(p, "="+version))
	}
	return sorted(out)
}

// mergePrevious keeps prev's annotations for packages still present and its
// vanished packages as removed, and records the changes.
func mergePrevious(u, prev *universe.Universe, date string, ch *Changes) []universe.Package {
	out := u.Packages
	present := make(map[string]bool, len(out))
	for i := range out {
		present[out[i].Name] = true
	}
	for i := range out {
		p := &out[i]
		old := prev.Lookup(p.Name)
		if old == nil || old.Removed != "" {
			ch.Added = append(ch.Added, p.Name)
		} else if !slices.Equal(old.Versions, p.Versions) {
			ch.Updated = append(ch.Updated, p.Name)
		}
		if old != nil {
			p.Files, p.Scripts, p.ScriptFiles = old.Files, old.Scripts, old.ScriptFiles
		}
	}
	for _, old := range prev.Packages {
		if present[old.Name] {
			continue
		}
		if old.Removed == "" {
			ch.Removed = append(ch.Removed, old.Name)
			old.Removed = date
		}
		if old.Source != "" && !slices.ContainsFunc(u.Sources, func(s universe.Source) bool { return s.Name == old.Source }) {
			old.Source = ""
		}
		out = append(out, old)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sorted is ss sorted, without duplicates, as the universe writes lists.
func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}
