package inspect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// apkDBPaths are where apk keeps its database of installed packages.
var apkDBPaths = [2]string{"usr/lib/apk/db/installed", "lib/apk/db/installed"}

// InstalledPackage is one package of apk's installed database.
type InstalledPackage struct {
	Name, Version, Arch string
	// Checksum is the C: line, "Q1" and the base64 SHA-1 of the package's
	// control section.
	Checksum string
}

// ReadInstalled reads the apk database of fsys (/usr/lib/apk/db/installed,
// else /lib/apk/db/installed). found is false when the image has none.
func ReadInstalled(fsys FS) (pkgs []InstalledPackage, found bool, err error) {
	db, b, err := readAPKDB(fsys, apkDBPaths)
	if err != nil || db == "" {
		return nil, false, err
	}
	pkgs, err = ParseInstalled(b)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", db, err)
	}
	return pkgs, true, nil
}

// readAPKDB reads the first of paths (an apk database under /usr/lib/apk/db,
// then under /lib/apk/db) that fsys has and returns its path and contents;
// p is "" when fsys has neither. A read error other than fs.ErrNotExist is
// returned as is, with the path it came from.
func readAPKDB(fsys FS, paths [2]string) (p string, b []byte, err error) {
	for _, p := range paths {
		b, err := fsys.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return p, b, err
	}
	return "", nil, nil
}

// ParseInstalled parses an apk installed database: blank-line separated
// stanzas of KEY:VALUE lines, of which it keeps P (name), V (version), A
// (arch) and C (checksum). A stanza without a name is skipped.
func ParseInstalled(b []byte) ([]InstalledPackage, error) {
	var out []InstalledPackage
	var cur InstalledPackage
	flush := func() {
		if cur.Name != "" {
			out = append(out, cur)
		}
		cur = InstalledPackage{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "P":
			cur.Name = v
		case "V":
			cur.Version = v
		case "A":
			cur.Arch = v
		case "C":
			cur.Checksum = v
		}
	}
	flush()
	return out, sc.Err()
}
