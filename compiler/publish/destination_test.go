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
	} {
		_, err := publish.ParseDestination(tc.in)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseDestination(%q) = %v\nwant %s", tc.in, err, tc.want)
		}
	}
	for _, ok := range []string{"127.0.0.1:5000", "registry:5000/hic", "ghcr.io/org/images/", "ghcr.io/a.b/c_d/e__f/g--h",
		"localhost/p", "localhost:5000/p", "[::1]:5391/p", "[::1]/p", "docker.io/p", "127.0.0.1:5391/p/", "ghcr.io/p__q", "ghcr.io/p---q"} {
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
