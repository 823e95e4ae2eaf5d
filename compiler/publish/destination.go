package publish

import (
	"fmt"
	"strings"
)

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
