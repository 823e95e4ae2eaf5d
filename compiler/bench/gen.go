// Package bench generates synthetic catalogs for the hic vet benchmark: many
// images shaped like the real catalog's (streams, distros, users, paths,
// volumes, env, ports, tests, exceptions), one folder per image, with a
// cue.mod so that the cue CLI can evaluate the same files. The output is a
// pure function of the options.
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Options size a generated catalog. It holds Images x Streams x Variants specs
// (each stream on one distro, wolfi or an alpine, chosen per image).
type Options struct {
	Images  int
	Streams int
}

// Default is the benchmark's catalog: 150 images x 4 streams x 2 variants
// (runtime and dev) = 1,200 specs.
var Default = Options{Images: 150, Streams: 4}

// Specs is how many specs a catalog generated with o holds.
func (o Options) Specs() int { return o.Images * o.Streams * 2 }

const moduleFile = "module: \"hic.local/catalog\"\nlanguage: version: \"v0.17.0\"\n"

var (
	categories = []string{"application", "database", "web-server", "proxy", "observability", "language", "cache", "queue", "devops", "security"}
	licenses   = []string{"Apache-2.0", "MIT", "BSD-3-Clause", "MPL-2.0", "GPL-2.0-only", "Apache-2.0 OR MIT"}
	distros    = []string{`["wolfi"]`, `["alpine-3.23"]`, `["alpine-3.22"]`}
	libs       = []string{"libssl3", "libcrypto3", "zlib", "libgcc", "libstdc++", "pcre2", "libcurl-openssl4", "icu-libs", "libxml2", "sqlite-libs"}
)

// Generate writes the catalog into dir (created if missing): cue.mod/module.cue
// and img-NNN/img-NNN.cue for each image.
func Generate(dir string, o Options) error {
	if err := os.MkdirAll(filepath.Join(dir, "cue.mod"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cue.mod", "module.cue"), []byte(moduleFile), 0o644); err != nil {
		return err
	}
	for i := 0; i < o.Images; i++ {
		name := fmt.Sprintf("img-%03d", i)
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name, name+".cue"), Image(i, o.Streams), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Image returns the CUE source of image i with n streams.
func Image(i, n int) []byte {
	name := fmt.Sprintf("img-%03d", i)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("package hic\n\n")
	w("// %s is a synthetic image for the hic vet benchmark.\n", name)
	w("images: %q: {\n", name)
	w("\ttitle:       %q\n", fmt.Sprintf("Image %d", i))
	w("\tdescription: %q\n", fmt.Sprintf("Synthetic image number %d, shaped like a real catalog entry.", i))
	w("\thomepage:    %q\n", fmt.Sprintf("https://example.org/%s", name))
	w("\tsource:      %q\n", fmt.Sprintf("https://github.com/example/%s", name))
	w("\tlicense:     %q\n", licenses[i%len(licenses)])
	w("\tcategories: [%q, %q]\n", categories[i%len(categories)], categories[(i+3)%len(categories)])
	w("\tpackage: %q\n", name)
	w("\tpackages: [%q, %q]\n", libs[i%len(libs)], libs[(i+5)%len(libs)])
	w("\tdistros: %s\n", distros[i%len(distros)])
	w("\tstreams: {\n")
	for s := 0; s < n; s++ {
		major, minor := 1+i%7, n-1-s
		stream := fmt.Sprintf("%d.%d", major, minor)
		version := fmt.Sprintf("%d.%d.%d-r%d", major, minor, (i+s)%13, s%3)
		released := fmt.Sprintf("2026-%02d-%02d", 1+(i+s)%9, 1+(i*7+s)%28)
		w("\t\t%q: {\n", stream)
		w("\t\t\tversion:  %q\n", version)
		w("\t\t\treleased: %q\n", released)
		if s == 0 {
			w("\t\t\tlatest:   true\n")
		}
		if s > 0 {
			w("\t\t\teol:      %q\n", fmt.Sprintf("2028-%02d-%02d", 1+(i+s)%12, 1+(i+s)%28))
		}
		w("\t\t}\n")
	}
	w("\t}\n")
	uid := 10000 + i
	home := "/var/lib/" + name
	w("\tuser: {name: %q, uid: %d, gid: %d, home: %q}\n", name, uid, uid, home)
	w("\tentrypoint: [%q]\n", "/usr/bin/"+name)
	w("\tcmd: [\"serve\", \"--config\", %q]\n", "/etc/"+name+"/config.yaml")
	w("\tworkdir: %q\n", home)
	w("\tenv: {\n\t\t%s_HOME: %q\n\t\t%s_LOG_LEVEL: \"info\"\n\t}\n", envName(name), home, envName(name))
	w("\tports: [%q, %q]\n", fmt.Sprintf("%d/tcp", 8000+i), fmt.Sprintf("%d/tcp", 9000+i))
	w("\tvolumes: [%q]\n", home+"/data")
	w("\tpaths: [\n\t\t{path: %q},\n\t\t{path: %q, mode: 0o750},\n\t]\n", home+"/data", "/var/log/"+name)
	w("\tstopSignal: \"SIGTERM\"\n")
	if i%10 == 0 {
		w("\texceptions: [{rule: \"no-secrets-in-env\", reason: \"the default token is a documented placeholder\"}]\n")
	}
	w("\ttests: [{name: \"version\", command: [%q, \"--version\"]}]\n", "/usr/bin/"+name)
	w("}\n")
	return []byte(b.String())
}

func envName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}
