package resolve

import (
	"fmt"
	"regexp"
)

// apk-tools' package names and versions: letters, digits and + . _ - ~,
// starting with a letter, digit or underscore. Both become file names (the
// package cache entry <name>-<version>, the .apk in the repository), so a
// name with a slash or a dot-dot would reach outside the cache or the
// mirror: an index that lists one is refused, signed or not.
var (
	packageName    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9+._-]*$`)
	packageVersion = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9+._~-]*$`)
)

// CheckPackageID returns an error unless name, version and arch have the
// shape apk-tools gives them.
func CheckPackageID(name, version, arch string) error {
	switch {
	case len(name) > 256 || !packageName.MatchString(name):
		return fmt.Errorf("package name %q is not an apk package name (letters, digits and + . _ -)", name)
	case len(version) > 256 || !packageVersion.MatchString(version):
		return fmt.Errorf("package %s: version %q is not an apk version", name, version)
	case arch != "" && !packageName.MatchString(arch):
		return fmt.Errorf("package %s-%s: architecture %q is not an apk architecture", name, version, arch)
	}
	return nil
}
