package publish

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// checkHost says what is wrong with a registry host ("ghcr.io",
// "127.0.0.1:5000", "[::1]:5000", "registry:5000"), if anything, before any
// request is sent: an IPv6 address without brackets, a port that is empty
// or outside 1 to 65535, upper case (DNS does not care, but signatures name
// the registry as written and --insecure-registry compares it), or anything
// else that is not an RFC 3986 authority. A host without a port or dot (a
// docker-compose service name, "registry") is a host here; whether it may
// start a reference is qualified's question.
func checkHost(host string) error {
	if strings.Count(host, ":") > 1 && !strings.HasPrefix(host, "[") {
		if i := strings.LastIndex(host, ":"); isIPv6(host[:i]) && isPort(host[i+1:]) {
			return fmt.Errorf("registry %q: an IPv6 address needs brackets: write [%s]:%s", host, host[:i], host[i+1:])
		}
		if isIPv6(host) {
			return fmt.Errorf("registry %q: an IPv6 address needs brackets: write [%s]", host, host)
		}
	}
	if _, err := name.NewRegistry(host, name.StrictValidation); err != nil {
		return fmt.Errorf("registry %q is not a HOST[:PORT] (registry.example.org, 127.0.0.1:5000)", host)
	}
	h, port := host, ""
	if i := strings.LastIndex(host, ":"); i >= 0 && !strings.HasSuffix(host, "]") {
		h, port = host[:i], host[i+1:]
		if port == "" {
			return fmt.Errorf("registry %q: no port after ':': give HOST:PORT with a port from 1 to 65535, or HOST alone", host)
		}
		if !isPort(port) {
			return fmt.Errorf("registry %q: port %s is not from 1 to 65535", host, port)
		}
	}
	if strings.HasPrefix(h, "[") && !isIPv6(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")) {
		return fmt.Errorf("registry %q: %s is not an IPv6 address", host, h)
	}
	if h == "" {
		return fmt.Errorf("registry %q: no host before the port (127.0.0.1%s)", host, host)
	}
	if lower := strings.ToLower(host); lower != host {
		return fmt.Errorf("registry %q must be lower case (%s)", host, lower)
	}
	return nil
}

// qualified reports whether host is read as a registry host at the start of
// a reference: it has a '.' or a ':' (a port, or an IPv6 address), or is
// localhost, as Docker's reference grammar and go-containerregistry decide.
// Anything else ("p", "registry") is read as the first path component of a
// Docker Hub repository, so "p/jq" would go to index.docker.io.
func qualified(host string) bool {
	return strings.ContainsAny(host, ".:") || host == "localhost"
}

// notQualified is the error of a destination dst whose first component,
// host, is not a registry host.
func notQualified(dst, host string) error {
	return fmt.Errorf("destination %q: %q is not a registry host: give HOST[:PORT]/PREFIX, e.g. docker.io/%s for Docker Hub or localhost:5000/%s", dst, host, dst, dst)
}

func isIPv6(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && strings.Contains(s, ":")
}

func isPort(s string) bool {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// ParseReference parses a full registry reference ("127.0.0.1:5000/hic/
// nginx:1.31", "ghcr.io/org/nginx@sha256:…") with the checks of
// ParseDestination: no scheme, a registry host first (never Docker Hub by
// default), the host and port valid, the repository lower case. The name
// options say whether it is spoken to over plain HTTP.
func (o RegistryOptions) ParseReference(ref string) (name.Reference, error) {
	if _, rest, ok := strings.Cut(ref, "://"); ok {
		return nil, fmt.Errorf("reference %q: no scheme: give HOST[:PORT]/REPOSITORY:TAG (%s)", ref, rest)
	}
	host, rest, ok := strings.Cut(ref, "/")
	if err := checkHost(host); ok && err != nil {
		return nil, fmt.Errorf("reference %q: %w", ref, err)
	}
	if !ok {
		return nil, fmt.Errorf("reference %q: no registry host: give HOST[:PORT]/REPOSITORY:TAG (localhost:5000/%s)", ref, ref)
	}
	if !qualified(host) {
		return nil, fmt.Errorf("reference %q: %q is not a registry host: give HOST[:PORT]/REPOSITORY:TAG, e.g. docker.io/%s for Docker Hub or localhost:5000/%s", ref, host, ref, ref)
	}
	repo := rest
	if i := strings.IndexAny(rest, ":@"); i >= 0 {
		repo = rest[:i]
	}
	if lower := strings.ToLower(repo); lower != repo {
		return nil, fmt.Errorf("reference %q: repository %q must be lower case (%s/%s%s)", ref, repo, host, lower, rest[len(repo):])
	}
	for _, c := range strings.Split(repo, "/") {
		if !prefixComponent.MatchString(c) {
			return nil, fmt.Errorf("reference %q: repository %q: path component %q must be lower-case letters and digits, with '.', '_', '__' or dashes only between them", ref, repo, c)
		}
	}
	r, err := name.ParseReference(ref, o.NameOptions(ref)...)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", ref, err)
	}
	return r, nil
}
