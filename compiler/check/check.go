package check

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/textdist"
	"github.com/hic-build/hic/compiler/universe"
	"github.com/hic-build/hic/schema"
)

// Options configures a check run.
type Options struct {
	// Today is the date end-of-life is judged against. Required: the caller
	// decides the clock (the CLI passes the wall clock or --today).
	Today time.Time
	// Tables are the schema's rules, distros and variants.
	Tables *schema.Tables
	// Universes are the package universes by distro name. A spec whose
	// distro has none is not checked against one.
	Universes map[string]*universe.Universe
}

// Rule ids implemented here. The schema's rule table is the source of their
// hints; TestRulesMatchSchema keeps the two in step.
const (
	RuleNonroot          = "nonroot"
	RuleNoShell          = "no-shell"
	RuleNoPackageManager = "no-package-manager"
	RulePinnedPackage    = "pinned-package"
	RuleOCIAnnotations   = "oci-annotations"
	RuleMultiArch        = "multi-arch"
	RulePathModes        = "path-modes"
	RuleUnprivilegedPort = "unprivileged-ports"
	RuleNoSecretsInEnv   = "no-secrets-in-env"
	RuleCleanPaths       = "clean-paths"
	RuleEnvValues        = "env-values"
	RuleHTTPSRepos       = "https-repositories"
	RuleEndOfLife        = "end-of-life"
	RuleReleaseDate      = "release-date"
	RuleEOLKnown         = "eol-known"
	RuleUnusedException  = "unused-exception"
	RuleNameLength       = "name-length"
	RuleUniquePackages   = "unique-packages"
	RuleVolumeOwned      = "volume-owned"
	RuleUniqueTags       = "unique-tags"
	RuleUniqueRefs       = "unique-refs"
	RuleException        = "exception"
	RuleSchema           = "schema"
)

// Implemented lists every rule this package enforces.
var Implemented = []string{
	RuleNonroot, RuleNoShell, RuleNoPackageManager, RulePinnedPackage, RuleOCIAnnotations,
	RuleMultiArch, RulePathModes, RuleUnprivilegedPort, RuleNoSecretsInEnv, RuleHTTPSRepos,
	RuleEndOfLife, RuleVolumeOwned, RuleUniqueTags, RuleUniqueRefs, RuleException,
	RuleCleanPaths, RuleEnvValues, RuleReleaseDate, RuleEOLKnown, RuleUnusedException, RuleNameLength, RuleUniquePackages,
	RulePackageExists, RulePackageVersion, RuleEntrypointProvided, RuleInstallScripts, RuleUniverseVerified,
}

// Check runs every static and catalog-wide rule over specs and returns the
// findings, sorted, with waived ones marked.
func Check(specs []*spec.Spec, opts Options) []finding.Finding {
	var out []finding.Finding
	for _, s := range specs {
		out = append(out, Spec(s, opts)...)
	}
	out = append(out, Catalog(specs, opts)...)
	out = append(out, unusedExceptions(specs, out, opts)...)
	finding.Sort(out)
	return out
}

// unusedExceptions reports each exception, for a rule vet can see fire
// (static and catalog rules not also checked on the built filesystem), that
// waives no finding on any spec it covers.
// One exception covers several specs (its stream's or image's variants and
// distros); it is used if it waives a finding on any of them.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func unusedExceptions(specs []*spec.Spec, findings []finding.Finding, opts Options) []finding.Finding {
	fired := map[[2]string]bool{} // spec ref, rule
	for _, f := range findings {
		fired[[2]string{f.Ref, f.Rule}] = true
	}
	type use struct {
		used bool
		refs []string
		pos  finding.Position
		rule string
	}
	uses := map[string]*use{}
	var order []string
	for _, s := range specs {
		for i, e := range s.Exceptions {
			r, ok := opts.Tables.Rules[e.Rule]
			if !ok || !r.Waivable || (r.Stage != "static" && r.Stage != "catalog") || slices.Contains(inspect.Rules(), e.Rule) {
				continue // vet cannot see the rule fire (it is also checked on the built filesystem)
			}
			pos := s.Pos("exceptions." + strconv.Itoa(i) + ".rule")
			k := pos.String() + "\x00" + e.Rule
			u, seen := uses[k]
			if !seen {
				u = &use{pos: pos, rule: e.Rule}
				uses[k] = u
				order = append(order, k)
			}
			u.refs = append(u.refs, s.Ref)
			if fired[[2]string{s.Ref, e.Rule}] {
				u.used = true
			}
		}
	}
	var out []finding.Finding
	for _, k := range order {
		u := uses[k]
		if u.used {
			continue
		}
		for _, ref := range u.refs {
			out = append(out, finding.Finding{
				Rule: RuleUnusedException, Severity: finding.Warning, Ref: ref, Pos: u.pos, Hint: opts.Tables.Rules[RuleUnusedException].Hint,
				Message: fmt.Sprintf("the exception for %q waives nothing: the rule fires on none of the %s it covers", u.rule, plural(len(u.refs), "spec")),
			})
		}
	}
	return out
}

// Spec runs the rules on one spec.
func Spec(s *spec.Spec, opts Options) []finding.Finding {
	c := &checker{s: s, opts: opts}
	c.exceptions()
	c.nonroot()
	c.packages()
	c.uniquePackages()
	c.annotations()
	c.platforms()
	c.paths()
	c.cleanPaths()
	c.ports()
	c.env()
	c.envValues()
	c.repositories()
	c.dates()
	c.names()
	c.volumes()
	c.universe()
	return c.out
}

type checker struct {
	s    *spec.Spec
	opts Options
	out  []finding.Finding
}

// report adds a finding for rule at the spec field, waived if the spec has an
// exception for a waivable rule.
func (c *checker) report(rule, field, format string, args ...any) {
	f := finding.Finding{
		Rule:     rule,
		Severity: finding.Error,
		Ref:      c.s.Ref,
		Pos:      c.s.Pos(field),
		Message:  fmt.Sprintf(format, args...),
	}
	if r, ok := c.opts.Tables.Rules[rule]; ok {
		f.Hint = r.Hint
		if e, _, has := c.s.Exception(rule); has && r.Waivable {
			f.Waived, f.Reason = true, e.Reason
		}
	}
	c.out = append(c.out, f)
}

// warn adds a warning: reported, never failing.
func (c *checker) warn(rule, field, format string, args ...any) {
	c.report(rule, field, format, args...)
	c.out[len(c.out)-1].Severity = finding.Warning
}

func (c *checker) exceptions() {
	seen := map[string]bool{}
	for i, e := range c.s.Exceptions {
		at := "exceptions." + strconv.Itoa(i)
		r, known := c.opts.Tables.Rules[e.Rule]
		switch {
		case !known:
			msg := fmt.Sprintf("exception names unknown rule %q", e.Rule)
			if s := closest(e.Rule, c.opts.Tables.RuleIDs()); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			c.report(RuleException, at+".rule", "%s", msg)
		case !r.Waivable:
			c.report(RuleException, at+".rule", "rule %q cannot be waived by an exception", e.Rule)
		case strings.TrimSpace(e.Reason) == "":
			c.report(RuleException, at+".reason", "exception for %q has an empty reason; say why this image needs it", e.Rule)
		case seen[e.Rule]:
			c.report(RuleException, at+".rule", "duplicate exception for %q", e.Rule)
		}
		seen[e.Rule] = true
	}
}

// nonroot: a hardened variant does not run as uid 0. The spec runs as root
// because the image sets runAsRoot (runAs is then root by name over the
// image's user) or because its user has uid 0; the finding and its fix name
// what the image says.
func (c *checker) nonroot() {
	if !c.s.Policy.Hardened || c.s.RunAs.UID != 0 {
		return
	}
	const waive = `, or add {rule: "nonroot", reason: "..."} if the software really must start as root`
	uidZero := c.s.User.UID == 0
	runAsRoot := c.s.User.UID != 0 || (c.s.RunAs.Name == "root" && c.s.User.Name != "root")
	switch {
	case uidZero && runAsRoot:
		c.report(RuleNonroot, "runAs", "%s variant runs as root: runAsRoot is set and user.uid is 0", c.s.Variant)
		c.hint("drop runAsRoot and remove user.uid 0 (or use the nonroot default 65532)" + waive)
	case uidZero:
		c.report(RuleNonroot, "user.uid", "%s variant runs as root: user.uid is 0", c.s.Variant)
		c.hint("remove user.uid 0 or use the nonroot default 65532" + waive)
	default:
		c.report(RuleNonroot, "runAs", "%s variant runs as root (uid 0)", c.s.Variant)
		c.hint("drop runAsRoot" + waive)
	}
}

// hint replaces the rule table's fix of the last finding with one that
// says what this spec has.
func (c *checker) hint(h string) { c.out[len(c.out)-1].Hint = h }

func (c *checker) packages() {
	if !c.s.Policy.Hardened {
		return
	}
	shells := set(c.s.Policy.ShellPackages)
	managers := set(c.s.Policy.PackageManagerPackages)
	for i, p := range c.s.Packages {
		name := spec.PackageName(p)
		at := "packages." + strconv.Itoa(i)
		if shells[name] {
			c.report(RuleNoShell, at, "%s variant installs shell package %q", c.s.Variant, name)
		}
		if managers[name] {
			c.report(RuleNoPackageManager, at, "%s variant installs package manager %q", c.s.Variant, name)
		}
	}
	name, version, ok := strings.Cut(c.s.MainPackage, "=")
	if !ok || name == "" || version == "" || strings.ContainsAny(version, "<>~*") {
		c.report(RulePinnedPackage, "mainPackage", "main package %q is not pinned to an exact version (want name=version)", c.s.MainPackage)
	}
}

// uniquePackages: a package of the image's own packages that the distro's
// base installs, that is the main package, or that the image names earlier
// is a warning whose fix says where it is installed already
// (spec.Redundant; the compiled configuration lists it once). One the dev variant adds too is not: the
// runtime variant needs it from the image.
func (c *checker) uniquePackages() {
	red := c.s.Redundant()
	start, _, _ := c.s.ImagePackages()
	for _, i := range slices.Sorted(maps.Keys(red)) {
		p, at := c.s.Packages[i], "imagePackages."+strconv.Itoa(i-start)
		switch red[i] {
		case "base":
			c.warn(RuleUniquePackages, at, "package %q is already installed by the base of %s", p, c.s.Distro)
			c.hint(fmt.Sprintf("%s is already installed by the base; remove it from packages", p))
		case "main":
			c.warn(RuleUniquePackages, at, "package %q is the main package, %s", p, c.s.MainPackage)
			c.hint(fmt.Sprintf("%s is the main package (package), installed at the stream's version already; remove it from packages", p))
		default:
			c.warn(RuleUniquePackages, at, "package %q is named twice in packages", p)
			c.hint(fmt.Sprintf("%s is already in packages; remove it the second time", p))
		}
	}
}

var requiredAnnotations = []string{
	"org.opencontainers.image.title",
	"org.opencontainers.image.description",
	"org.opencontainers.image.licenses",
	"org.opencontainers.image.url",
	"org.opencontainers.image.version",
}

func (c *checker) annotations() {
	for _, k := range requiredAnnotations {
		if strings.TrimSpace(c.s.Annotations[k]) == "" {
			c.report(RuleOCIAnnotations, "annotations."+k, "annotation %s is missing or empty", k)
		}
	}
}

func (c *checker) platforms() {
	have := set(c.s.Platforms)
	var missing []string
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		c.report(RuleMultiArch, "platforms", "not built for %s", strings.Join(missing, " and "))
	}
}

func (c *checker) paths() {
	for i, p := range c.s.Paths {
		at := "paths." + strconv.Itoa(i) + ".mode"
		switch {
		case p.Mode&0o4000 != 0:
			c.report(RulePathModes, at, "%s has mode %#o: setuid", p.Path, p.Mode)
		case p.Mode&0o2000 != 0:
			c.report(RulePathModes, at, "%s has mode %#o: setgid", p.Path, p.Mode)
		case p.Mode&0o002 != 0 && !(p.Type == "directory" && p.Mode&0o1000 != 0):
			c.report(RulePathModes, at, "%s has mode %#o: world-writable", p.Path, p.Mode)
		}
	}
}

// cleanPaths: every path the image is given (paths, workdir, volumes, the
// user's home, the entrypoint's program) is absolute and clean, so apko
// writes it where it says: "/../../tmp/x" would put tar entries ".." into a
// layer, and a NUL would cut the path short.
func (c *checker) cleanPaths() {
	check := func(field, what, p string) {
		if why := unclean(p); why != "" {
			c.report(RuleCleanPaths, field, "%s %q %s", what, p, why)
		}
	}
	for i, p := range c.s.Paths {
		check("paths."+strconv.Itoa(i)+".path", "path", p.Path)
	}
	check("workdir", "workdir", c.s.Workdir)
	for i, v := range c.s.Volumes {
		check("volumes."+strconv.Itoa(i), "volume", v)
	}
	if c.s.User.Home != "" {
		check("user.home", "home directory", c.s.User.Home)
	}
	if len(c.s.Entrypoint) > 0 {
		check("entrypoint.0", "entrypoint", c.s.Entrypoint[0])
	}
	for i, a := range c.s.Entrypoint[min(1, len(c.s.Entrypoint)):] {
		if strings.ContainsRune(a, 0) {
			c.report(RuleCleanPaths, "entrypoint."+strconv.Itoa(i+1), "entrypoint argument %q holds a NUL byte", a)
		}
	}
	for i, a := range c.s.Cmd {
		if strings.ContainsRune(a, 0) {
			c.report(RuleCleanPaths, "cmd."+strconv.Itoa(i), "cmd argument %q holds a NUL byte", a)
		}
	}
}

// unclean says what is wrong with an image path, or "" if it is absolute
// and clean.
func unclean(p string) string {
	switch {
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return "holds a control character (a NUL, newline or escape)"
	case !strings.HasPrefix(p, "/"):
		return "is not absolute (want a path starting with /)"
	case slices.Contains(strings.Split(p, "/"), ".."):
		return "climbs with \"..\" (want " + strconv.Quote(path.Clean(p)) + " or the path meant)"
	case path.Clean(p) != p:
		return "is not clean (want " + strconv.Quote(path.Clean(p)) + ")"
	}
	return ""
}

func (c *checker) ports() {
	for i, p := range c.s.Ports {
		at := "ports." + strconv.Itoa(i)
		num, _, _ := strings.Cut(p, "/")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 65535 {
			c.report(RuleSchema, at, "port %q is out of range: expected 1 to 65535", p)
			continue
		}
		if n < 1024 && c.s.RunAs.UID != 0 {
			c.report(RuleUnprivilegedPort, at, "port %s is privileged (< 1024) but the image runs as uid %d", p, c.s.RunAs.UID)
		}
	}
}

var (
	secretName  = regexp.MustCompile(`(?i)(passw(or)?d|secret|token|api_?key|private_?key|access_?key|credential|auth_?key)`)
	secretValue = regexp.MustCompile(`(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.)`)
)

func (c *checker) env() {
	for _, k := range slices.Sorted(maps.Keys(c.s.Env)) {
		v := c.s.Env[k]
		switch {
		case secretValue.MatchString(v):
			c.report(RuleNoSecretsInEnv, "env."+k, "env %s holds what looks like a credential", k)
		case secretName.MatchString(k) && v != "" && !strings.HasPrefix(v, "/"):
			c.report(RuleNoSecretsInEnv, "env."+k, "env %s sets a default for a secret-looking variable", k)
		}
	}
}

// envValues: an env value with a control character (a NUL truncates it in
// the kernel's environment block, a newline or escape forges log lines and
// config files) is refused.
func (c *checker) envValues() {
	for _, k := range slices.Sorted(maps.Keys(c.s.Env)) {
		v := c.s.Env[k]
		if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
			r, _ := utf8.DecodeRuneInString(v[i:])
			c.report(RuleEnvValues, "env."+k, "env %s holds control character %U at byte %d", k, r, i)
		}
	}
}

func (c *checker) repositories() {
	for i, r := range c.s.Repositories {
		if !strings.HasPrefix(r, "https://") {
			c.report(RuleHTTPSRepos, "repositories."+strconv.Itoa(i), "repository %s is not https", r)
		}
	}
	if len(c.s.Keyrings) == 0 {
		c.report(RuleHTTPSRepos, "keyrings", "no signing keyring for the repositories")
	}
	for i, k := range c.s.Keyrings {
		if !strings.HasPrefix(k, "https://") {
			c.report(RuleHTTPSRepos, "keyrings."+strconv.Itoa(i), "keyring %s is not https", k)
		}
	}
}

func (c *checker) dates() {
	released, rerr := time.Parse(time.DateOnly, c.s.Dates.Released)
	today := c.opts.Today.UTC().Truncate(24 * time.Hour)
	if rerr == nil && released.After(today) {
		c.report(RuleReleaseDate, "dates.released", "stream %s is released %s, after today (%s)", c.s.Stream, c.s.Dates.Released, today.Format(time.DateOnly))
	}
	if c.s.Dates.EOL == "" {
		if rerr == nil && released.AddDate(3, 0, 0).Before(today) {
			c.warn(RuleEOLKnown, "dates.released", "stream %s was released %s, more than three years ago, and names no end of life", c.s.Stream, c.s.Dates.Released)
		}
		return
	}
	eol, err := time.Parse(time.DateOnly, c.s.Dates.EOL)
	if err != nil {
		return // the schema reports malformed dates
	}
	if rerr == nil && !eol.After(released) {
		c.report(RuleSchema, "dates.eol", "end of life %s is not after the release date %s", c.s.Dates.EOL, c.s.Dates.Released)
		return
	}
	if eol.Before(today) {
		c.report(RuleEndOfLife, "dates.eol", "stream %s reached end of life on %s", c.s.Stream, c.s.Dates.EOL)
	}
}

// Registry and file system limits (OCI distribution spec: tags match
// [A-Za-z0-9_][A-Za-z0-9._-]{0,127}; registries refuse names over 255
// characters with registry and prefix; file names are at most 255 bytes).
const (
	maxRepositoryLen = 128
	maxTagLen        = 128
	maxFileNameLen   = 255
)

func (c *checker) names() {
	if n := len(c.s.Repository); n > maxRepositoryLen {
		c.report(RuleNameLength, "", "repository name %.40s… is %d characters; at most %d leave room for REGISTRY/PREFIX within the registries' 255", c.s.Repository, n, maxRepositoryLen)
		return
	}
	for i, t := range c.s.Tags {
		if len(t) > maxTagLen {
			c.report(RuleNameLength, "tags."+strconv.Itoa(i), "tag %.40s… is %d characters; the OCI limit is %d", t, len(t), maxTagLen)
		}
	}
	if n := len(strings.ReplaceAll(c.s.Ref, ":", "_")) + len(".json"); n > maxFileNameLen {
		c.report(RuleNameLength, "", "spec %.40s… gives a compiled file name of %d bytes; file systems allow %d", c.s.Ref, n, maxFileNameLen)
	}
}

func (c *checker) volumes() {
	if c.s.RunAs.UID == 0 {
		return // root can write any volume
	}
	for i, v := range c.s.Volumes {
		var p *spec.Path
		for j := range c.s.Paths {
			if c.s.Paths[j].Path == v {
				p = &c.s.Paths[j]
			}
		}
		at := "volumes." + strconv.Itoa(i)
		switch {
		case p == nil:
			c.report(RuleVolumeOwned, at, "volume %s has no paths entry, so uid %d cannot write it", v, c.s.RunAs.UID)
		case p.Type != "directory":
			c.report(RuleVolumeOwned, at, "volume %s is a %s in paths, not a directory", v, p.Type)
		case p.UID != c.s.RunAs.UID:
			c.report(RuleVolumeOwned, at, "volume %s is owned by uid %d, but the image runs as uid %d", v, p.UID, c.s.RunAs.UID)
		}
	}
}

// Catalog runs the catalog-wide rules.
func Catalog(specs []*spec.Spec, opts Options) []finding.Finding {
	var out []finding.Finding
	hint := func(rule string) string { return opts.Tables.Rules[rule].Hint }
	refs := map[string]*spec.Spec{}
	for _, s := range specs {
		if first, dup := refs[s.Ref]; dup {
			out = append(out, finding.Finding{
				Rule: RuleUniqueRefs, Severity: finding.Error, Ref: s.Ref, Pos: s.Pos(""), Hint: hint(RuleUniqueRefs),
				Message: fmt.Sprintf("spec %s is also defined at %s", s.Ref, first.Pos("")),
			}, finding.Finding{
				Rule: RuleUniqueRefs, Severity: finding.Error, Ref: first.Ref, Pos: first.Pos(""), Hint: hint(RuleUniqueRefs),
				Message: fmt.Sprintf("spec %s is also defined at %s", first.Ref, s.Pos("")),
			})
			continue
		}
		refs[s.Ref] = s
	}
	// A tag clash is one mistake per pair of streams (two streams with
	// latest: true clash on latest and latest-dev, in every variant): one
	// finding per pair, at the later stream's tags, naming every clashing
	// tag. When the streams are in different files, the earlier one gets
	// the finding too, so vetting either file shows it.
	type clash struct {
		first, second *spec.Spec
		pos           finding.Position
		tags          []string
		refs          []string // the clashing specs of both streams
	}
	var clashes []*clash
	byPair := map[[2]string]*clash{}
	tags := map[string]*spec.Spec{}
	for _, s := range specs {
		for i, t := range s.Tags {
			ref := s.Repository + ":" + t
			first, dup := tags[ref]
			if !dup {
				tags[ref] = s
				continue
			}
			if first == s {
				continue
			}
			key := [2]string{first.Image + "\x00" + first.Stream, s.Image + "\x00" + s.Stream}
			c, ok := byPair[key]
			if !ok {
				c = &clash{first: first, second: s, pos: s.Pos("tags." + strconv.Itoa(i))}
				byPair[key] = c
				clashes = append(clashes, c)
			}
			if !slices.Contains(c.tags, ref) {
				c.tags = append(c.tags, ref)
			}
			for _, r := range []string{first.Ref, s.Ref} {
				if !slices.Contains(c.refs, r) {
					c.refs = append(c.refs, r)
				}
			}
		}
	}
	for _, c := range clashes {
		plural := "tag " + c.tags[0] + " is"
		if len(c.tags) > 1 {
			plural = "tags " + strings.Join(c.tags, ", ") + " are"
		}
		where := func(s *spec.Spec) string {
			if s.Image == c.first.Image && s.Image == c.second.Image {
				return fmt.Sprintf("stream %q", s.Stream)
			}
			return fmt.Sprintf("image %s stream %q", s.Image, s.Stream)
		}
		// The same finding on every clashing spec (each fails), shown once:
		// hic vet merges findings with the same place and message.
		for _, r := range c.refs {
			out = append(out, finding.Finding{
				Rule: RuleUniqueTags, Severity: finding.Error, Ref: r, Pos: c.pos, Hint: hint(RuleUniqueTags),
				Message: fmt.Sprintf("%s produced by both %s (%s) and %s", plural, where(c.first), c.first.Pos("tags"), where(c.second)),
			})
			if fp := c.first.Pos("tags"); fp.File != c.pos.File {
				out = append(out, finding.Finding{
					Rule: RuleUniqueTags, Severity: finding.Error, Ref: r, Pos: fp, Hint: hint(RuleUniqueTags),
					Message: fmt.Sprintf("%s produced by both %s and %s (%s)", plural, where(c.first), where(c.second), c.pos),
				})
			}
		}
	}
	return out
}

func set(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// closest returns the candidate within edit distance 3 of s, if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := textdist.Levenshtein(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
