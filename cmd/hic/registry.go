package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/hic-build/hic/compiler/publish"
)

// registryFlags are --insecure-registry and --plain-http, on every command
// that speaks to a registry (publish, build --push, verify --registry,
// attestations).
type registryFlags struct {
	insecure  []string
	plainHTTP bool
}

func (f *registryFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.insecure, "insecure-registry", nil, "speak plain HTTP to this registry host[:port] (repeatable; localhost and 127.0.0.1 always are)")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "speak plain HTTP to every registry")
}

// options checks the hosts and returns the library's registry options.
func (f *registryFlags) options() (publish.RegistryOptions, error) {
	o := publish.RegistryOptions{InsecureHosts: f.insecure, PlainHTTP: f.plainHTTP}
	if err := o.Validate(); err != nil {
		return o, usageError("--insecure-registry: %v", err)
	}
	return o, nil
}

// unused refuses --plain-http and --insecure-registry where command speaks
// to no registry (used false): they would change nothing, unsaid. why says
// why no registry is spoken to, do how to give one.
func (f *registryFlags) unused(command string, used bool, why, do string) error {
	var given []string
	if f.plainHTTP {
		given = append(given, "--plain-http")
	}
	if len(f.insecure) > 0 {
		given = append(given, "--insecure-registry")
	}
	if used || len(given) == 0 {
		return nil
	}
	return usageError("%s: %s: %s, so it would change nothing: drop it, or %s", command, strings.Join(given, " and "), why, do)
}

// destination parses the REGISTRY/PREFIX that what ("publish", "--push")
// names, as a usage error (exit 2) when it does not parse: checked before
// anything is read or pushed.
func (f *registryFlags) destination(what, dst string) (publish.Destination, error) {
	ro, err := f.options()
	if err != nil {
		return publish.Destination{}, err
	}
	d, err := ro.ParseDestination(dst)
	if err != nil {
		hint := ""
		if strings.HasPrefix(dst, "http://") {
			hint = "; plain HTTP is spoken to localhost and 127.0.0.1, and to the hosts given with --insecure-registry HOST"
		}
		return publish.Destination{}, usageError("%s: %v%s", what, err, hint)
	}
	return d, nil
}

// registriesHelp is the help paragraph of the commands with registryFlags.
const registriesHelp = `REGISTRY is a host with a '.' or a port, or localhost (docker.io for Docker
Hub): a bare name such as registry is refused, since docker and crane read
registry/hic as the Docker Hub repository registry/hic; give registry:5000/hic.

Registries are spoken to over HTTPS, with credentials from the Docker config
file (docker login), except registries on localhost or 127.0.0.1 and the
hosts named with --insecure-registry (repeatable) or, with --plain-http,
every registry: those over plain HTTP. These two flags are refused where no
registry is read from or written to.`
