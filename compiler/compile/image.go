package compile

// Image is one compiled spec: everything the build, the post-build checks and
// the attestations need, with nothing left to look up in the catalog.
// It is the flat, stable form written to out/compiled/ for auditors and diffs.
type Image struct {
	// Ref is the spec ref, IMAGE:STREAM-DISTRO-VARIANT ("nginx:1.29-wolfi-runtime").
	Ref string `json:"ref"`
	// Repository is the image repository name the tags belong to ("nginx").
	Repository string `json:"repository"`
	// Tags are the tags of this spec in Repository, most specific last.
	Tags []string `json:"tags"`
	// Config is the apko configuration. Its repositories and keyrings are the
	// catalog's real URLs; mirrors are a build option, never part of Config.
	Config Config `json:"config"`
	// KeyPins pin the keys of Config's keyring by content: keyring URL ->
	// "sha256:" and the hex SHA-256 of the DER public key. A key the schema
	// leaves unpinned has no entry. The build refuses a key file whose
	// content has another fingerprint.
	KeyPins map[string]string `json:"keyPins,omitempty"`
	// Ports are the ports the image listens on ("8080/tcp"); apko has no
	// field for them, so the build adds them to the image config.
	Ports []string `json:"ports,omitempty"`
	// Metadata describes the image for annotations, the site and provenance.
	Metadata Metadata `json:"metadata"`
	// Policy is what the post-build checks enforce on the built filesystem.
	Policy Policy `json:"policy"`
	// Tests are smoke tests run inside the built root filesystem.
	Tests []Test `json:"tests,omitempty"`
}

// Metadata is descriptive data carried from the spec.
type Metadata struct {
	Image       string   `json:"image"`
	Stream      string   `json:"stream"`
	Version     string   `json:"version"`
	Distro      string   `json:"distro"`
	Variant     string   `json:"variant"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Homepage    string   `json:"homepage"`
	Source      string   `json:"source,omitempty"`
	License     string   `json:"license"`
	Categories  []string `json:"categories,omitempty"`
	Released    string   `json:"released"`
	EndOfLife   string   `json:"endOfLife,omitempty"`
	// MainPackage is the pinned main package, "name=version".
	MainPackage string `json:"mainPackage"`
	// SourceFile is the catalog file the spec came from, relative to the catalog root.
	SourceFile string `json:"sourceFile,omitempty"`
}

// Policy is the hardening policy of one spec as the built filesystem must meet it.
type Policy struct {
	// RunAsUID is the uid the image runs as; RunAsUser its user name.
	RunAsUID  uint32 `json:"runAsUID"`
	RunAsUser string `json:"runAsUser"`
	// ForbidShell and ForbidPackageManager are set for runtime variants.
	ForbidShell          bool `json:"forbidShell"`
	ForbidPackageManager bool `json:"forbidPackageManager"`
	// ShellPaths and PackageManagerPaths are the binaries that count as a shell
	// or a package manager on this distro (from the schema's distro table).
	ShellPaths          []string `json:"shellPaths,omitempty"`
	PackageManagerPaths []string `json:"packageManagerPaths,omitempty"`
	// Exceptions waive rules for this spec; each has a reason.
	Exceptions []Exception `json:"exceptions,omitempty"`
}

// Exception waives one rule for one spec.
type Exception struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// Waives returns the exception for rule, if there is one.
func (p Policy) Waives(rule string) (Exception, bool) {
	for _, e := range p.Exceptions {
		if e.Rule == rule {
			return e, true
		}
	}
	return Exception{}, false
}

// Test is a smoke test: run Command inside the image's root filesystem as the
// run-as user and expect it to exit with Exit and its output to contain
// Expect, within Timeout (a Go duration; empty: the runner's default).
type Test struct {
	Name    string   `json:"name"`
	Command []string `json:"command"`
	Expect  string   `json:"expect,omitempty"`
	Exit    int      `json:"exit,omitempty"`
	Timeout string   `json:"timeout,omitempty"`
}

// Config is the apko image configuration of a spec: the fields of apko's
// types.ImageConfiguration that a spec sets, with apko's names and JSON
// tags, so that it marshals to the bytes apko's type would (the compiled
// spec's digest is an input of every image). It is hic's own type so that
// reading a compiled spec (hic verify, hic plan) does not link apko;
// compiler/resolve.ApkoConfig turns it into apko's type for the build.
type Config struct {
	Contents   Contents   `json:"contents,omitempty"`
	Entrypoint Entrypoint `json:"entrypoint,omitempty"`
	// Cmd is the arguments to the entrypoint, shell-quoted.
	Cmd        string   `json:"cmd,omitempty"`
	StopSignal string   `json:"stop-signal,omitempty"`
	WorkDir    string   `json:"work-dir,omitempty"`
	Accounts   Accounts `json:"accounts,omitempty"`
	// Archs are apko's (OCI) architecture names: "amd64", "arm64".
	Archs       []string          `json:"archs,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	Paths       []PathMutation    `json:"paths,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Volumes     []string          `json:"volumes,omitempty"`
	// Layering is how the build splits the image into layers; nil: the
	// build's default.
	Layering *Layering `json:"layering,omitempty"`
}

// Layering is apko's layering of an image: Strategy "origin" puts the
// packages of each origin in a layer of their own, up to Budget layers.
type Layering struct {
	Strategy string `json:"strategy,omitempty"`
	Budget   int    `json:"budget,omitempty"`
}

// Contents are the repositories, keyring and packages of a Config.
type Contents struct {
	Repositories []string `json:"repositories,omitempty"`
	Keyring      []string `json:"keyring,omitempty"`
	Packages     []string `json:"packages,omitempty"`
}

// Entrypoint is the entrypoint of a Config.
type Entrypoint struct {
	// Command is the entrypoint's words, shell-quoted.
	Command string `json:"command,omitempty"`
}

// Accounts are the user to run as and the users and groups of a Config.
type Accounts struct {
	// RunAs is the uid the image runs as, in decimal.
	RunAs  string  `json:"run-as,omitempty"`
	Users  []User  `json:"users,omitempty"`
	Groups []Group `json:"groups,omitempty"`
}

// User is a user account of the image.
type User struct {
	UserName string  `json:"username,omitempty"`
	UID      uint32  `json:"uid,omitempty"`
	GID      *uint32 `json:"gid,omitempty"`
	HomeDir  string  `json:"homedir,omitempty"`
}

// Group is a group of the image.
type Group struct {
	GroupName string   `json:"groupname,omitempty"`
	GID       uint32   `json:"gid,omitempty"`
	Members   []string `json:"members,omitempty"`
}

// PathMutation is a path the build creates or changes ("directory",
// "empty-file", "hardlink", "symlink", "permissions"), owned by UID:GID
// with Permissions; Source is a link's target.
type PathMutation struct {
	Path        string `json:"path,omitempty"`
	Type        string `json:"type,omitempty"`
	UID         uint32 `json:"uid,omitempty"`
	GID         uint32 `json:"gid,omitempty"`
	Permissions uint32 `json:"permissions,omitempty"`
	Source      string `json:"source,omitempty"`
	Recursive   bool   `json:"recursive,omitempty"`
}
