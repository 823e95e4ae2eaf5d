package publish_test

import (
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/publish"
)

// TestParseDestinationErrors: a destination that does not parse is refused
// naming the part that is wrong and how to write it, never with a
// repository made up to check it ("UPPER/x", "/127.0.0.1:5000/x/x").
func TestParseDestinationErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:5000/UPPER", `destination "127.0.0.1:5000/UPPER": PREFIX "UPPER" must be lower case (127.0.0.1:5000/upper)`},
		{"http://127.0.0.1:5000/x", `destination "http://127.0.0.1:5000/x": no scheme: give HOST[:PORT]/PREFIX (127.0.0.1:5000/x)`},
		{"https://ghcr.io/org", `destination "https://ghcr.io/org": no scheme: give HOST[:PORT]/PREFIX (ghcr.io/org)`},
		{"ghcr.io/org/hic:latest", `destination "ghcr.io/org/hic:latest": PREFIX "org/hic:latest" names a tag or digest: give the repository prefix alone (ghcr.io/org/hic); each image keeps its own repository and tags below it`},
		{"ghcr.io/org/-x", `destination "ghcr.io/org/-x": PREFIX "org/-x": path component "-x" must be lower-case letters and digits, with '.', '_', '__' or dashes only between them`},
		{"ghcr.io/a//b", `destination "ghcr.io/a//b": PREFIX "a//b": path component "" must be lower-case`},
		{"Bad Registry/x", `destination "Bad Registry/x": registry "Bad Registry" is not a HOST[:PORT] (registry.example.org, 127.0.0.1:5000)`},
		{"/x", `destination "/x": no registry: give HOST[:PORT]/PREFIX`},
		// A first component without '.' or ':' that is not localhost is a
		// Docker Hub namespace to go-containerregistry: refused, never
		// pushed to index.docker.io.
		{"p", `destination "p": "p" is not a registry host: give HOST[:PORT]/PREFIX, e.g. docker.io/p for Docker Hub or localhost:5000/p`},
		{"registry/hic", `destination "registry/hic": "registry" is not a registry host: give HOST[:PORT]/PREFIX, e.g. docker.io/registry/hic for Docker Hub or localhost:5000/registry/hic`},
		// Ports, IPv6 and case are checked before any request is sent.
		{"127.0.0.1:99999/p", `destination "127.0.0.1:99999/p": registry "127.0.0.1:99999": port 99999 is not from 1 to 65535`},
		{"127.0.0.1:0/p", `destination "127.0.0.1:0/p": registry "127.0.0.1:0": port 0 is not from 1 to 65535`},
		{"127.0.0.1:/p", `destination "127.0.0.1:/p": registry "127.0.0.1:": no port after ':': give HOST:PORT with a port from 1 to 65535, or HOST alone`},
		{":5000/p", `destination ":5000/p": registry ":5000": no host before the port (127.0.0.1:5000)`},
		{"::1:5391/p", `destination "::1:5391/p": registry "::1:5391": an IPv6 address needs brackets: write [::1]:5391`},
		{"fe80::1/p", `destination "fe80::1/p": registry "fe80::1": an IPv6 address needs brackets: write [fe80::1]`},
		{"[::1]:0/p", `destination "[::1]:0/p": registry "[::1]:0": port 0 is not from 1 to 65535`},
		{"Localhost:5391/p", `destination "Localhost:5391/p": registry "Localhost:5391" must be lower case (localhost:5391)`},
		{"GHCR.io/org", `destination "GHCR.io/org": registry "GHCR.io" must be lower case (ghcr.io)`},
		{"", `destination "": no registry`},
	} {
		_, err := publish.ParseDestination(tc.in)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseDestination(%q) = %v\nwant %s", tc.in, err, tc.want)
		}
	}
	for _, ok := range []string{"127.0.0.1:5000", "registry:5000/hic", "ghcr.io/org/images/", "ghcr.io/a.b/c_d/e__f/g--h",
		"localhost/p", "localhost:5000/p", "[::1]:5391/p", "[::1]/p", "127.0.0.1:65535/p", "docker.io/p", "127.0.0.1:5391/p/", "ghcr.io/p__q", "ghcr.io/p---q"} {
		d, err := publish.ParseDestination(ok)
		if err != nil {
			t.Errorf("ParseDestination(%q): %v", ok, err)
			continue
		}
		// The repository keeps the registry named: never Docker Hub by
		// default.
		r, err := d.Repository("jq")
		if err != nil {
			t.Errorf("ParseDestination(%q).Repository(jq): %v", ok, err)
		} else if r.RegistryStr() != d.Registry.RegistryStr() {
			t.Errorf("ParseDestination(%q).Repository(jq) = %s, on registry %s, want %s", ok, r, r.RegistryStr(), d.Registry.RegistryStr())
		}
	}
}

// TestParseReference: a full registry reference (verify --registry -) takes
// the destination's checks, so a mistyped one is a usage error before any
// request, never a failed verification or a request to Docker Hub.
func TestParseReference(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"HTTPS://127.0.0.1:5391/p1/jq:latest", `reference "HTTPS://127.0.0.1:5391/p1/jq:latest": no scheme: give HOST[:PORT]/REPOSITORY:TAG (127.0.0.1:5391/p1/jq:latest)`},
		{"127.0.0.1:5391/P1/jq:latest", `reference "127.0.0.1:5391/P1/jq:latest": repository "P1/jq" must be lower case (127.0.0.1:5391/p1/jq:latest)`},
		{"p/jq:latest", `reference "p/jq:latest": "p" is not a registry host: give HOST[:PORT]/REPOSITORY:TAG, e.g. docker.io/p/jq:latest for Docker Hub or localhost:5000/p/jq:latest`},
		{"jq:latest", `reference "jq:latest": no registry host: give HOST[:PORT]/REPOSITORY:TAG (localhost:5000/jq:latest)`},
		{"127.0.0.1:99999/p/jq:latest", `reference "127.0.0.1:99999/p/jq:latest": registry "127.0.0.1:99999": port 99999 is not from 1 to 65535`},
		{"127.0.0.1:5391/p/-x:1", `reference "127.0.0.1:5391/p/-x:1": repository "p/-x": path component "-x" must be lower-case`},
		{"127.0.0.1:5391/p/jq:bad tag", `reference "127.0.0.1:5391/p/jq:bad tag": `},
	} {
		_, err := publish.RegistryOptions{}.ParseReference(tc.in)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseReference(%q) = %v\nwant %s", tc.in, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:5391/p/jq:latest", "127.0.0.1:5391/p/jq:latest"},
		{"localhost/p/jq", "localhost/p/jq:latest"},
		{"ghcr.io/org/jq@sha256:0000000000000000000000000000000000000000000000000000000000000000", "ghcr.io/org/jq@sha256:0000000000000000000000000000000000000000000000000000000000000000"},
		{"127.0.0.1:5391/p/jq:LATEST", "127.0.0.1:5391/p/jq:LATEST"},
	} {
		r, err := publish.RegistryOptions{}.ParseReference(tc.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", tc.in, err)
		} else if r.Name() != tc.want {
			t.Errorf("ParseReference(%q) = %s, want %s", tc.in, r.Name(), tc.want)
		}
	}
}

// TestValidateInsecureHosts: --insecure-registry hosts take the host
// checks (a host without a port or dot is fine there: it names a host, not
// the start of a reference).
func TestValidateInsecureHosts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"registry:0", `insecure registry: registry "registry:0": port 0 is not from 1 to 65535`},
		{"registry:", `insecure registry: registry "registry:": no port after ':'`},
		{"::1:5000", `insecure registry: registry "::1:5000": an IPv6 address needs brackets: write [::1]:5000`},
		{"Registry:5000", `insecure registry: registry "Registry:5000" must be lower case (registry:5000)`},
	} {
		err := publish.RegistryOptions{InsecureHosts: []string{tc.in}}.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Validate(%q) = %v\nwant %s", tc.in, err, tc.want)
		}
	}
	if err := (publish.RegistryOptions{InsecureHosts: []string{"registry", "registry:5000", "[::1]:5000"}}).Validate(); err != nil {
		t.Error(err)
	}
}
