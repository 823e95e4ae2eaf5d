package main

import (
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

// registriesHelp is the help paragraph of the commands with registryFlags.
const registriesHelp = `Registries are spoken to over HTTPS, with credentials from the Docker config
file (docker login), except registries on localhost or 127.0.0.1 and the
hosts named with --insecure-registry (repeatable) or, with --plain-http,
every registry: those over plain HTTP.`
