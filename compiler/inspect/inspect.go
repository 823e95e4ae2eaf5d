package inspect

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/fsutil"
)

// Rule IDs of the built-filesystem checks.
const (
	RuleSetuid         = "fs-setuid"
	RuleWorldWritable  = "fs-world-writable"
	RuleShell          = "fs-shell"
	RulePackageManager = "fs-package-manager"
	RuleRunAsUser      = "fs-run-as-user"
	RuleEntrypoint     = "fs-entrypoint"
	RuleSBOM           = "fs-sbom"
)

// Rules lists every rule ID, in the order Check runs them.
func Rules() []string {
	return []string{RuleSetuid, RuleWorldWritable, RuleShell, RulePackageManager, RuleRunAsUser, RuleEntrypoint, RuleSBOM, RuleInstallScripts}
}

var hints = map[string]string{
	RuleSetuid:         "drop the setuid/setgid bit or the file capabilities in the package or in the spec's paths, or add an exception with a reason",
	RuleWorldWritable:  "make the path writable only by its owner, or give the directory the sticky bit (1777)",
	RuleShell:          "remove the package that provides the shell from runtime variants, or add an exception with a reason",
	RulePackageManager: "remove apk-tools (or the package manager) from runtime variants",
	RuleRunAsUser:      "declare the run-as user in the spec's accounts with the uid the policy requires",
	RuleEntrypoint:     "install the package that provides the entrypoint, or fix the entrypoint path and its mode",
	RuleInstallScripts: "hic does not run install scripts: say in an exception how the spec covers what they would do (accounts, paths), or pick a package without them",
	RuleSBOM:           "the SBOM must list exactly the installed packages: rebuild, and report an SBOM generator bug if it persists",
}

// defaultPath is searched for a relative entrypoint when the image sets no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Package is one package as the SBOM or the apk database lists it.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Input is one platform of one built image.
type Input struct {
	// Image is the compiled spec the image was built from.
	Image compile.Image
	// Platform ("linux/amd64") prefixes every message.
	Platform string
	// FS is the flattened root filesystem of that platform.
	FS FS
	// SBOM is the package list of the platform's SBOM (see SBOMPackages).
	SBOM []Package
}

// Check runs every rule on in and returns the findings, sorted; waived ones
// are kept with Waived set. The error is for a filesystem that cannot be read
// or a cancelled ctx, never for a rule violation.
func Check(ctx context.Context, in Input) ([]finding.Finding, error) {
	c := &checker{in: in}
	steps := []func() error{c.walk, c.shells, c.runAsUser, c.entrypoint, c.sbom, c.scripts}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: inspect %s: %w", in.Image.Ref, in.Platform, err)
		}
		if err := step(); err != nil {
			return nil, fmt.Errorf("%s: inspect %s: %w", in.Image.Ref, in.Platform, err)
		}
	}
	finding.Sort(c.out)
	return c.out, nil
}

type checker struct {
	in  Input
	out []finding.Finding
}

func (c *checker) add(rule, format string, args ...any) {
	f := finding.Finding{
		Rule:     rule,
		Severity: finding.Error,
		Ref:      c.in.Image.Ref,
		Message:  c.in.Platform + ": " + fmt.Sprintf(format, args...),
		Hint:     hints[rule],
	}
	if c.in.Platform == "" {
		f.Message = fmt.Sprintf(format, args...)
	}
	if src := c.in.Image.Metadata.SourceFile; src != "" {
		f.Pos = finding.Position{File: src}
	}
	if e, ok := c.in.Image.Policy.Waives(rule); ok {
		f.Waived, f.Reason = true, e.Reason
	}
	c.out = append(c.out, f)
}

// hint replaces the rule's fix of the last finding with one for this case.
func (c *checker) hint(h string) { c.out[len(c.out)-1].Hint = h }

// Octal renders the permission, setuid, setgid and sticky bits of m as the
// four-digit octal mode chmod takes ("4755").
func Octal(m fs.FileMode) string {
	return fmt.Sprintf("%04o", fsutil.UnixMode(m))
}

// capabilityRecord is the PAX record of a file's capabilities in a layer tar.
const capabilityRecord = "SCHILY.xattr.security.capability"

// walk runs the rules that look at every entry: fs-setuid (setuid and
// setgid bits, file capabilities), fs-world-writable.
func (c *checker) walk() error {
	return fs.WalkDir(c.in.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := c.in.FS.Lstat(name)
		if err != nil {
			return err
		}
		m := fi.Mode()
		if m&fs.ModeSymlink != 0 {
			return nil
		}
		p := "/" + name
		if name == "." {
			p = "/"
		}
		if !m.IsDir() {
			switch {
			case m&fs.ModeSetuid != 0 && m&fs.ModeSetgid != 0:
				c.add(RuleSetuid, "%s is setuid and setgid (mode %s)", p, Octal(m))
			case m&fs.ModeSetuid != 0:
				c.add(RuleSetuid, "%s is setuid (mode %s)", p, Octal(m))
			case m&fs.ModeSetgid != 0:
				c.add(RuleSetuid, "%s is setgid (mode %s)", p, Octal(m))
			}
			if h, ok := fi.Sys().(*tar.Header); ok {
				if _, caps := h.PAXRecords[capabilityRecord]; caps {
					c.add(RuleSetuid, "%s has file capabilities (xattr security.capability): like a setuid bit, they give whoever runs it privileges", p)
				}
			}
		}
		// Character devices (/dev/null, /dev/zero, /dev/urandom) are meant
		// to be world-writable; sticky directories (/tmp) are safe.
		if m.Perm()&0o002 != 0 && m&fs.ModeCharDevice == 0 && !(m.IsDir() && m&fs.ModeSticky != 0) {
			kind := "file"
			if m.IsDir() {
				kind = "directory without the sticky bit"
			}
			c.add(RuleWorldWritable, "%s is a world-writable %s (mode %s)", p, kind, Octal(m))
		}
		return nil
	})
}

// present reports whether p (absolute) exists after resolving symlinks, and
// describes how.
func (c *checker) present(p string) (string, bool, error) {
	name := cleanName(p)
	fi, err := c.in.FS.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		// A parent may be a symlink (/bin -> usr/bin).
		if r, rerr := Resolve(c.in.FS, name); rerr == nil && r != name {
			if tfi, terr := c.in.FS.Lstat(r); terr == nil && !tfi.IsDir() {
				return fmt.Sprintf("%s (at /%s, mode %s)", p, r, Octal(tfi.Mode())), true, nil
			}
		}
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if fi.IsDir() {
			return "", false, nil
		}
		return fmt.Sprintf("%s (mode %s)", p, Octal(fi.Mode())), true, nil
	}
	r, err := Resolve(c.in.FS, name)
	if err != nil {
		return "", false, nil
	}
	tfi, err := c.in.FS.Lstat(r)
	if err != nil || tfi.IsDir() {
		return "", false, nil // dangling symlink: nothing to run
	}
	return fmt.Sprintf("%s (symlink to /%s, mode %s)", p, r, Octal(tfi.Mode())), true, nil
}

func (c *checker) shells() error {
	pol := c.in.Image.Policy
	for _, k := range []struct {
		on    bool
		paths []string
		rule  string
		what  string
	}{
		{pol.ForbidShell, pol.ShellPaths, RuleShell, "shell"},
		{pol.ForbidPackageManager, pol.PackageManagerPaths, RulePackageManager, "package manager"},
	} {
		if !k.on {
			continue
		}
		paths := append([]string(nil), k.paths...)
		sort.Strings(paths)
		for _, p := range paths {
			desc, ok, err := c.present(p)
			if err != nil {
				return err
			}
			if ok {
				c.add(k.rule, "%s binary %s is present", k.what, desc)
			}
		}
	}
	return nil
}

func (c *checker) runAsUser() error {
	pol := c.in.Image.Policy
	want := strconv.FormatUint(uint64(pol.RunAsUID), 10)
	who := "uid " + want
	if pol.RunAsUser != "" {
		who = fmt.Sprintf("%s (uid %s)", pol.RunAsUser, want)
	}
	b, err := c.in.FS.ReadFile("etc/passwd")
	if errors.Is(err, fs.ErrNotExist) {
		c.add(RuleRunAsUser, "/etc/passwd is missing, so run-as user %s does not exist", who)
		return nil
	}
	if err != nil {
		return err
	}
	// A name resolves to its first entry (getpwnam, su, docker exec -u), so
	// the first entry of the run-as name decides; a later one with the
	// wanted uid is a second account of that name, not the run-as user.
	var sameUID, sameName string
	named := 0 // entries with the run-as name
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 4 {
			continue
		}
		name, uid := f[0], f[2]
		if pol.RunAsUser != "" && name == pol.RunAsUser {
			named++
			if named == 1 {
				if uid == want {
					return nil
				}
				sameName = uid
			}
			continue
		}
		switch {
		case uid == want && pol.RunAsUser == "":
			return nil
		case uid == want && sameUID == "":
			sameUID = name
		}
	}
	switch {
	case named > 1:
		c.add(RuleRunAsUser, "/etc/passwd has %d users named %s, the first with uid %s: the name resolves to uid %s, not the run-as uid %s", named, pol.RunAsUser, sameName, sameName, want)
		c.hint(fmt.Sprintf("give the user a name no base package's account has (%s is one; the default is nonroot)", pol.RunAsUser))
	case sameName != "":
		c.add(RuleRunAsUser, "/etc/passwd has user %s with uid %s, not %s", pol.RunAsUser, sameName, want)
	case sameUID != "":
		c.add(RuleRunAsUser, "/etc/passwd has uid %s as %q, not %q", want, sameUID, pol.RunAsUser)
	default:
		c.add(RuleRunAsUser, "/etc/passwd has no run-as user %s", who)
	}
	return nil
}

func (c *checker) entrypoint() error {
	cfg := c.in.Image.Config
	words := strings.Fields(cfg.Entrypoint.Command)
	if len(words) == 0 {
		return nil
	}
	cmd := words[0]
	cands := []string{cmd}
	if !strings.HasPrefix(cmd, "/") {
		search := defaultPath
		if p, ok := cfg.Environment["PATH"]; ok {
			search = p
		}
		cands = nil
		for _, dir := range strings.Split(search, ":") {
			if strings.HasPrefix(dir, "/") {
				cands = append(cands, path.Join(dir, cmd))
			}
		}
	}
	var notExec string
	for _, p := range cands {
		r, err := Resolve(c.in.FS, cleanName(p))
		if err != nil {
			continue
		}
		fi, err := c.in.FS.Lstat(r)
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return nil
		}
		if notExec == "" {
			kind := "not a regular file"
			if fi.Mode().IsRegular() {
				kind = "not executable"
			}
			notExec = fmt.Sprintf("entrypoint %s (/%s) is %s (mode %s)", p, r, kind, Octal(fi.Mode()))
		}
	}
	if notExec != "" {
		c.add(RuleEntrypoint, "%s", notExec)
		return nil
	}
	if strings.HasPrefix(cmd, "/") {
		c.add(RuleEntrypoint, "entrypoint %s does not exist", cmd)
	} else {
		c.add(RuleEntrypoint, "entrypoint %s is not found in PATH", cmd)
	}
	return nil
}

func (c *checker) sbom() error {
	installed, found, err := ReadInstalled(c.in.FS)
	if err != nil {
		return err
	}
	if !found && len(c.in.SBOM) == 0 {
		return nil
	}
	if !found {
		c.add(RuleSBOM, "the image has no apk database (/%s) but the SBOM lists %d packages", apkDBPaths[0], len(c.in.SBOM))
		return nil
	}
	inSBOM := map[string]string{}
	for _, p := range c.in.SBOM {
		inSBOM[p.Name] = p.Version
	}
	inDB := map[string]string{}
	for _, p := range installed {
		inDB[p.Name] = p.Version
		v, ok := inSBOM[p.Name]
		switch {
		case !ok:
			c.add(RuleSBOM, "installed package %s %s is missing from the SBOM", p.Name, p.Version)
		case v != "" && p.Version != "" && v != p.Version:
			c.add(RuleSBOM, "installed package %s is version %s, the SBOM says %s", p.Name, p.Version, v)
		}
	}
	for _, p := range c.in.SBOM {
		if _, ok := inDB[p.Name]; !ok {
			c.add(RuleSBOM, "SBOM package %s %s is not installed (not in the apk database)", p.Name, p.Version)
		}
	}
	return nil
}
