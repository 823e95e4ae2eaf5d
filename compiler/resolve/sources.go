package resolve

import (
	"fmt"
	"github.com/hic-build/hic/compiler/apkindex"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"chainguard.dev/apko/pkg/build"
	"chainguard.dev/apko/pkg/build/types"
)

// Mirror maps a catalog repository URL to a local directory laid out as
// <Dir>/<arch>/APKINDEX.tar.gz, <Dir>/<arch>/*.apk and <Dir>/keys/*.rsa.pub.
type Mirror struct {
	URL string `json:"url"`
	Dir string `json:"dir"`
	// Keys pin the mirror's signing keys by content: key file name
	// ("wolfi-signing.rsa.pub") -> "sha256:" + hex SHA-256 of its DER public
	// key (apkindex.KeyFingerprint). When set, a key in <Dir>/keys is trusted only if
	// its fingerprint is the pinned one; a key file whose content differs is
	// refused, naming the file and both fingerprints.
	Keys map[string]string `json:"keys,omitempty"`
}

// Options configure Resolve.
type Options struct {
	// Mirrors replace catalog repositories by local directories. A catalog
	// repository with no mirror is fetched from its URL by apko.
	Mirrors []Mirror
	// CacheDir is apko's package and index cache. Empty: a fresh directory
	// inside the call's temporary directory, removed afterwards.
	CacheDir string
	// TempDir is the parent of the call's temporary directory, which is
	// removed before Resolve returns. Empty: os.TempDir().
	TempDir string
	// Transport is the HTTP transport apko fetches repositories without a
	// mirror and keys with. Nil: apko's default (http.DefaultTransport).
	Transport http.RoundTripper
}

// Sources says where apko reads the repositories and keys of one image
// configuration, and what of them the image records.
//
// Every repository of the configuration is passed to apko as an extra
// build repository (the mirror directory, or the catalog URL when there is
// no mirror) and every key as an extra key file, while the configuration
// apko writes into the image (/etc/apko.json, /etc/apk/repositories) keeps
// only the catalog URLs as runtime repositories. So an image built from a
// mirror is bit-identical to one built from the catalog repository, wherever
// the mirror lives.
type Sources struct {
	// Config is the configuration as recorded in the image: Repositories and
	// BuildRepositories are empty, the catalog's repositories are
	// RuntimeOnlyRepositories, the keyring is empty.
	Config types.ImageConfiguration
	// Repositories are the build-time repository locations, sorted.
	Repositories []string
	// Keys are the build-time key files or URLs, sorted.
	Keys []string

	toURL   map[string]string // build-time location -> catalog URL
	mirrors map[string]string // catalog URL -> mirror dir
	keys    map[string]map[string]string
}

// NewSources maps cfg's repositories and keyring onto mirrors. A mirrored
// repository trusts only the keys of cfg's keyring (matched by file name) that
// the mirror holds in <Dir>/keys; it is an error if it holds none of them.
//
// pins pin keyring keys by content (keyring URL -> apkindex.KeyFingerprint, as
// compile.Image.KeyPins). A mirror's key file must have the fingerprint its
// mirror pins for that file name (Mirror.Keys: a mirror re-signed with a key
// of its own says so there) or, when the mirror pins none for it, the one of
// pins; a key file with another fingerprint is refused, naming the file and
// both fingerprints. A key neither pins is trusted by its file name.
func NewSources(cfg types.ImageConfiguration, mirrors []Mirror, pins map[string]string) (*Sources, error) {
	s := &Sources{
		toURL:   map[string]string{},
		mirrors: map[string]string{},
		keys:    map[string]map[string]string{},
	}
	byURL := map[string]string{}
	mirrorPins := map[string]map[string]string{}
	for _, m := range mirrors {
		u := strings.TrimSuffix(m.URL, "/")
		if u == "" || m.Dir == "" {
			return nil, fmt.Errorf("mirror %q=%q: empty URL or directory", m.URL, m.Dir)
		}
		dir, err := filepath.Abs(m.Dir)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", u, err)
		}
		if prev, ok := byURL[u]; ok && prev != dir {
			return nil, fmt.Errorf("mirror %s: two directories, %s and %s", u, prev, dir)
		}
		byURL[u] = dir
		if len(m.Keys) > 0 {
			mirrorPins[u] = m.Keys
		}
	}

	var runtime, locations []string
	unmirrored := false
	var dirErr error
	add := func(repo string, keep bool) {
		tag, u := splitRepo(repo)
		u = strings.TrimSuffix(u, "/")
		loc := u
		if dir, ok := byURL[u]; ok {
			loc = dir
			s.mirrors[u] = dir
		} else {
			unmirrored = true
		}
		if prev, ok := s.toURL[loc]; ok && prev != u {
			dirErr = fmt.Errorf("mirror directory %s serves two repositories, %s and %s: a package's directory must name its one repository, so each needs a directory of its own (hic mirror writes them apart)", loc, prev, u)
		}
		s.toURL[loc] = u
		if tag != "" {
			loc = tag + " " + loc
		}
		locations = append(locations, loc)
		if keep {
			runtime = append(runtime, repo)
		}
	}
	for _, r := range cfg.Contents.Repositories {
		add(r, true)
	}
	for _, r := range cfg.Contents.BuildRepositories {
		add(r, false)
	}
	if dirErr != nil {
		return nil, dirErr
	}
	runtime = append(runtime, cfg.Contents.RuntimeOnlyRepositories...)

	// Keys: a keyring entry held by a used mirror is read from the mirror.
	for u, dir := range s.mirrors {
		s.keys[u] = map[string]string{}
		for _, k := range cfg.Contents.Keyring {
			name := path.Base(k)
			p := filepath.Join(dir, "keys", name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			want, by := pins[k], "the catalog's keyring pins"
			if pin := mirrorPins[u]; pin != nil {
				w, pinned := pin[name]
				if !pinned {
					continue // a key the mirror's manifest does not pin is not trusted
				}
				want, by = w, "the mirror pins"
			}
			if want != "" {
				if err := checkKeyFile(p, want); err != nil {
					return nil, fmt.Errorf("mirror %s: %w, but %s %s for %s: the key was replaced; regenerate the mirror with hic mirror or restore the key", u, err, by, want, name)
				}
			}
			s.keys[u][name] = p
		}
		if len(s.keys[u]) == 0 {
			return nil, fmt.Errorf("mirror %s (%s): none of the keyring's keys %v is in %s", u, dir, cfg.Contents.Keyring, filepath.Join(dir, "keys"))
		}
	}
	var keys []string
	seen := map[string]bool{}
	for _, u := range sortedKeys(s.keys) {
		for _, name := range sortedKeys(s.keys[u]) {
			if !seen[name] {
				seen[name] = true
				keys = append(keys, s.keys[u][name])
			}
		}
	}
	if unmirrored {
		for _, k := range cfg.Contents.Keyring {
			if !seen[path.Base(k)] {
				seen[path.Base(k)] = true
				keys = append(keys, k)
			}
		}
	}

	c := cfg
	c.Contents = cfg.Contents
	c.Contents.Repositories = nil
	c.Contents.BuildRepositories = nil
	c.Contents.Keyring = nil
	c.Contents.RuntimeOnlyRepositories = sortedUnique(runtime)
	c.Contents.Packages = slices.Clone(cfg.Contents.Packages)
	s.Config = c
	s.Repositories = sortedUnique(locations)
	s.Keys = sortedUnique(keys)
	return s, nil
}

// URL returns the catalog URL of a build-time repository location (a mirror
// directory or a URL), as apko reports it for a package.
func (s *Sources) URL(location string) (string, bool) {
	u, ok := s.toURL[strings.TrimSuffix(location, "/")]
	return u, ok
}

// MirrorDir returns the mirror directory of a catalog repository URL.
func (s *Sources) MirrorDir(url string) (string, bool) {
	d, ok := s.mirrors[strings.TrimSuffix(url, "/")]
	return d, ok
}

// TrustedKeys returns the keys a mirrored repository's index may be signed
// with: key file name ("name.rsa.pub") to path. Nil if url is not mirrored.
func (s *Sources) TrustedKeys(url string) map[string]string {
	return s.keys[strings.TrimSuffix(url, "/")]
}

// ApkoOptions returns the apko build options that make apko read from these
// sources and record only the catalog URLs: the image configuration (cfg,
// whose repositories and keyring are replaced as in Config) plus the extra
// build repositories and keys.
func (s *Sources) ApkoOptions(cfg types.ImageConfiguration) []build.Option {
	c := cfg
	c.Contents.Repositories = s.Config.Contents.Repositories
	c.Contents.BuildRepositories = s.Config.Contents.BuildRepositories
	c.Contents.RuntimeOnlyRepositories = s.Config.Contents.RuntimeOnlyRepositories
	c.Contents.Keyring = s.Config.Contents.Keyring
	return []build.Option{
		build.WithImageConfiguration(c),
		build.WithExtraBuildRepos(slices.Clone(s.Repositories)),
		build.WithExtraKeys(slices.Clone(s.Keys)),
	}
}

// splitRepo splits "@tag URL" into its tag ("@tag") and URL.
func splitRepo(repo string) (tag, url string) {
	if strings.HasPrefix(repo, "@") {
		if f := strings.Fields(repo); len(f) == 2 {
			return f[0], f[1]
		}
	}
	return "", repo
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// checkKeyFile returns an error naming the file and its fingerprint if the
// PEM public key in path does not have fingerprint want.
func checkKeyFile(path, want string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("key %s: %w", path, err)
	}
	got, err := apkindex.KeyFingerprint(b)
	if err != nil {
		return fmt.Errorf("key file %s: %w", path, err)
	}
	if got != want {
		return fmt.Errorf("key file %s has fingerprint %s", path, got)
	}
	return nil
}
