package inspect

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/hic-build/hic/compiler/finding"
)

// RuleInstallScripts: apko never runs a package's install scripts or
// triggers, so the image differs from what the package's author meant.
// Every package with scripts is reported (a warning); in a hardened
// (runtime) image, scripts that would change files (accounts, modes,
// owners, links, directories) fail the image unless the spec says, with an
// exception, how it covers them (for example through its accounts).
const RuleInstallScripts = "fs-install-scripts"

// apk's databases of scripts and triggers, as apko writes them.
var (
	scriptsPaths  = [2]string{"usr/lib/apk/db/scripts.tar", "lib/apk/db/scripts.tar"}
	triggersPaths = [2]string{"usr/lib/apk/db/triggers", "lib/apk/db/triggers"}
)

// fileChanging matches script commands that change the filesystem.
var fileChanging = regexp.MustCompile(`(?m)(^|[\s;&|(])(adduser|addgroup|useradd|groupadd|usermod|groupmod|deluser|delgroup|chown|chmod|chgrp|mkdir|ln|install|setcap|rm|mv|cp|touch|sed\s+-i|mknod)(\s|$)`)

// Script is one install script or trigger of an installed package.
type Script struct {
	Package string `json:"package"` // name-version
	Kind    string `json:"kind"`    // "post-install", "trigger", ...
	// Changes lists the file-changing commands found in it (sorted).
	Changes []string `json:"changes,omitempty"`
}

// InstallScripts reads the scripts and triggers apk recorded for the
// installed packages of fsys.
func InstallScripts(fsys FS) ([]Script, error) {
	var out []Script
	p, b, err := readAPKDB(fsys, scriptsPaths)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", p, err)
	}
	if p != "" {
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("/%s: %w", p, err)
			}
			// "<name>-<version>.Q1<28 base64 chars>.<kind>"
			i := strings.LastIndex(h.Name, ".Q1")
			if i < 0 || len(h.Name) < i+3+28+2 {
				continue
			}
			body, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			out = append(out, Script{Package: h.Name[:i], Kind: strings.TrimPrefix(h.Name[i+3+28:], "."), Changes: changes(body)})
		}
	}
	trig, err := triggers(fsys)
	if err != nil {
		return nil, err
	}
	out = append(out, trig...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Package != out[j].Package {
			return out[i].Package < out[j].Package
		}
		return out[i].Kind < out[j].Kind
	})
	return out, nil
}

func changes(script []byte) []string {
	seen := map[string]bool{}
	for _, m := range fileChanging.FindAllSubmatch(script, -1) {
		seen[strings.Fields(string(m[2]))[0]] = true
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// triggers maps the trigger lines ("Q1<checksum> <paths>") to packages by
// the installed database's C: lines.
func triggers(fsys FS) ([]Script, error) {
	p, b, err := readAPKDB(fsys, triggersPaths)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", p, err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	byChecksum := map[string]string{}
	installed, _, _ := ReadInstalled(fsys) // without it, a trigger is named by its checksum
	for _, p := range installed {
		if p.Checksum != "" {
			byChecksum[p.Checksum] = p.Name + "-" + p.Version
		}
	}
	var out []Script
	for _, l := range lines {
		sum, _, _ := strings.Cut(l, " ")
		pkg := byChecksum[sum]
		if pkg == "" {
			pkg = "package " + sum
		}
		out = append(out, Script{Package: pkg, Kind: "trigger"})
	}
	return out, nil
}

// scripts reports the installed packages' scripts and triggers.
func (c *checker) scripts() error {
	ss, err := InstallScripts(c.in.FS)
	if err != nil {
		return err
	}
	byPkg := map[string][]Script{}
	var pkgs []string
	for _, s := range ss {
		if byPkg[s.Package] == nil {
			pkgs = append(pkgs, s.Package)
		}
		byPkg[s.Package] = append(byPkg[s.Package], s)
	}
	for _, p := range pkgs {
		var kinds, chg []string
		seen := map[string]bool{}
		for _, s := range byPkg[p] {
			kinds = append(kinds, s.Kind)
			for _, x := range s.Changes {
				if !seen[x] {
					seen[x] = true
					chg = append(chg, x)
				}
			}
		}
		sort.Strings(chg)
		msg := fmt.Sprintf("%s has install scripts apko does not run: %s", p, strings.Join(kinds, ", "))
		if len(chg) > 0 {
			msg += fmt.Sprintf(" (they would change files: %s)", strings.Join(chg, ", "))
		}
		before := len(c.out)
		c.add(RuleInstallScripts, "%s", msg)
		if !c.in.Image.Policy.ForbidShell || len(chg) == 0 {
			c.out[before].Severity = finding.Warning
		}
	}
	return nil
}
