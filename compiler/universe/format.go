package universe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hic-build/hic/compiler/fsutil"
)

// MaxFileSize is the largest universe file WriteDir writes as one file;
// above it the universe is split into parts. The repository refuses files
// of 2 MiB and more.
const MaxFileSize = 1536 << 10

// Ext is the extension of universe files.
const Ext = ".txt"

// DirName is the folder of a catalog that holds its universes.
const DirName = "universe"

// Dir is the universe folder of the catalog at root.
func Dir(catalogRoot string) string { return filepath.Join(catalogRoot, DirName) }

// ErrNotExist is returned (wrapped) by ReadDir when a distro has no universe.
var ErrNotExist = errors.New("no universe")

// ParseError is a malformed line of a universe file.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Read parses one universe file; name is used in errors.
func Read(r io.Reader, name string) (*Universe, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return parse(b, name)
}

// ReadFile reads one universe file.
func ReadFile(path string) (*Universe, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(b, path)
}

func parse(data []byte, name string) (*Universe, error) {
	u := &Universe{}
	sawVersion, inPackages := false, false
	line := 0
	var prev string
	// One conversion for the whole file: every name and value below is a
	// substring of it, so a line costs no allocation beyond its slices.
	b := string(data)
	for len(b) > 0 {
		var s string
		if i := strings.IndexByte(b, '\n'); i >= 0 {
			s, b = b[:i], b[i+1:]
		} else {
			s, b = b, ""
		}
		line++
		s = strings.TrimRight(s, "\r")
		if len(s) == 0 || s[0] == '#' {
			continue
		}
		bad := func(format string, args ...any) error {
			return &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
		}
		if s[0] == '@' {
			if inPackages {
				return nil, bad("header line %q after the first package", strings.Fields(s)[0])
			}
			if err := u.header(s, &sawVersion); err != nil {
				return nil, bad("%v", err)
			}
			continue
		}
		if !sawVersion {
			return nil, bad("missing @universe %d header before the first package", FormatVersion)
		}
		inPackages = true
		p, err := parsePackage(s, u)
		if err != nil {
			return nil, bad("%v", err)
		}
		if p.Name <= prev {
			if p.Name == prev {
				return nil, bad("package %s listed twice", p.Name)
			}
			return nil, bad("package %s is out of order (after %s): keep lines sorted by name", p.Name, prev)
		}
		prev = p.Name
		u.Packages = append(u.Packages, p)
	}
	if !sawVersion {
		return nil, &ParseError{File: name, Line: line, Msg: fmt.Sprintf("missing @universe %d header", FormatVersion)}
	}
	if u.Distro == "" {
		return nil, &ParseError{File: name, Line: line, Msg: "missing @distro header"}
	}
	for i := range u.Packages {
		if r := u.Packages[i].Source; r != "" && !slices.ContainsFunc(u.Sources, func(s Source) bool { return s.Name == r }) {
			return nil, &ParseError{File: name, Line: line, Msg: fmt.Sprintf("package %s names source %q, which no @source line defines", u.Packages[i].Name, r)}
		}
	}
	return u, nil
}

func (u *Universe) header(s string, sawVersion *bool) error {
	f := strings.Fields(s)
	switch f[0] {
	case "@universe":
		if len(f) != 2 || f[1] != strconv.Itoa(FormatVersion) {
			return fmt.Errorf("unsupported format %q (this hic reads @universe %d)", s, FormatVersion)
		}
		*sawVersion = true
	case "@distro":
		if len(f) != 2 {
			return fmt.Errorf("want @distro NAME")
		}
		u.Distro = f[1]
	case "@arch":
		if len(f) < 2 {
			return fmt.Errorf("want @arch ARCH...")
		}
		u.Archs = f[1:]
	case "@verified":
		if len(f) != 2 {
			return fmt.Errorf("want @verified yes|no")
		}
		v, err := yesNo(f[1])
		if err != nil {
			return err
		}
		u.Unverified = !v
	case "@source":
		if len(f) < 2 {
			return fmt.Errorf("want @source NAME KEY=VALUE...")
		}
		src := Source{Name: f[1]}
		for _, kv := range f[2:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || v == "" {
				return fmt.Errorf("@source %s: field %q is not KEY=VALUE", src.Name, kv)
			}
			switch {
			case k == "url":
				src.URL = v
			case k == "from":
				src.From = v
			case k == "commit":
				src.Commit = v
			case k == "date":
				src.Date = v
			case k == "signer":
				src.Signer = v
			case k == "verified":
				ok, err := yesNo(v)
				if err != nil {
					return err
				}
				src.Unverified = !ok
			case strings.HasPrefix(k, "index."):
				if src.Indexes == nil {
					src.Indexes = map[string]string{}
				}
				src.Indexes[strings.TrimPrefix(k, "index.")] = v
			default:
				return fmt.Errorf("@source %s: unknown field %q", src.Name, k)
			}
		}
		if slices.ContainsFunc(u.Sources, func(s Source) bool { return s.Name == src.Name }) {
			return fmt.Errorf("@source %s defined twice", src.Name)
		}
		u.Sources = append(u.Sources, src)
	default:
		return fmt.Errorf("unknown header %s", f[0])
	}
	return nil
}

func yesNo(s string) (bool, error) {
	switch s {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, fmt.Errorf("want yes or no, got %q", s)
}

func parsePackage(s string, u *Universe) (Package, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return Package{}, fmt.Errorf("want NAME VERSIONS [KEY=VALUE...], got %q", s)
	}
	p := Package{Name: f[0], Versions: split(f[1]), Unverified: u.Unverified}
	if strings.Contains(p.Name, "=") {
		return p, fmt.Errorf("package line %q has no versions", s)
	}
	var seen []string
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return p, fmt.Errorf("package %s: field %q is not KEY=VALUE", p.Name, kv)
		}
		if slices.Contains(seen, k) {
			return p, fmt.Errorf("package %s: field %s= given twice", p.Name, k)
		}
		seen = append(seen, k)
		switch k {
		case "o":
			p.Origin = v
		case "a":
			p.Archs = split(v)
		case "r":
			p.Source = v
		case "d":
			p.Depends = split(v)
		case "p":
			p.Provides = split(v)
		case "f":
			p.Files = split(v)
		case "s":
			p.Scripts = split(v)
		case "sf":
			p.ScriptFiles = split(v)
		case "removed":
			p.Removed = v
		case "verified":
			ok, err := yesNo(v)
			if err != nil {
				return p, fmt.Errorf("package %s: verified: %w", p.Name, err)
			}
			p.Unverified = !ok
		default:
			return p, fmt.Errorf("package %s: unknown field %q", p.Name, k)
		}
	}
	return p, nil
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Write writes u in the file format, normalised: packages sorted by name,
// lists sorted and deduplicated, defaults omitted. It rejects values the
// format cannot hold (spaces, commas, empty names).
func Write(w io.Writer, u *Universe) error {
	return writeParts(w, u, u.Packages)
}

func writeParts(w io.Writer, u *Universe, pkgs []Package) error {
	if err := validate(u); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# hic package universe of %s: one package per line; format in compiler/universe (go doc).\n", u.Distro)
	fmt.Fprintf(bw, "@universe %d\n@distro %s\n", FormatVersion, u.Distro)
	if len(u.Archs) > 0 {
		fmt.Fprintf(bw, "@arch %s\n", strings.Join(sorted(u.Archs), " "))
	}
	if u.Unverified {
		fmt.Fprintf(bw, "@verified no\n")
	}
	for _, s := range u.Sources {
		bw.WriteString("@source " + s.Name)
		kv := func(k, v string) {
			if v != "" {
				bw.WriteString(" " + k + "=" + v)
			}
		}
		kv("url", s.URL)
		kv("from", s.From)
		kv("commit", s.Commit)
		kv("date", s.Date)
		archs := make([]string, 0, len(s.Indexes))
		for a := range s.Indexes {
			archs = append(archs, a)
		}
		sort.Strings(archs)
		for _, a := range archs {
			kv("index."+a, s.Indexes[a])
		}
		kv("signer", s.Signer)
		if s.Unverified {
			kv("verified", "no")
		}
		bw.WriteString("\n")
	}
	ps := slices.Clone(pkgs)
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	defArchs := sorted(u.Archs)
	for i := range ps {
		p := &ps[i]
		if i > 0 && p.Name == ps[i-1].Name {
			return fmt.Errorf("universe %s: package %s listed twice", u.Distro, p.Name)
		}
		bw.WriteString(p.Name + " " + strings.Join(SortVersions(p.Versions), ","))
		field := func(k string, vs []string) {
			if len(vs) > 0 {
				bw.WriteString(" " + k + "=" + strings.Join(vs, ","))
			}
		}
		if p.Origin != "" && p.Origin != p.Name {
			bw.WriteString(" o=" + p.Origin)
		}
		if a := sorted(p.Archs); len(a) > 0 && !slices.Equal(a, defArchs) {
			field("a", a)
		}
		if p.Source != "" && (len(u.Sources) == 0 || p.Source != u.Sources[0].Name) {
			bw.WriteString(" r=" + p.Source)
		}
		field("d", sorted(p.Depends))
		field("p", sorted(p.Provides))
		field("f", sorted(p.Files))
		field("s", sorted(p.Scripts))
		field("sf", sorted(p.ScriptFiles))
		if p.Removed != "" {
			bw.WriteString(" removed=" + p.Removed)
		}
		if p.Unverified != u.Unverified {
			if p.Unverified {
				bw.WriteString(" verified=no")
			} else {
				bw.WriteString(" verified=yes")
			}
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

func sorted(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

func validate(u *Universe) error {
	bad := func(what, v string) error {
		return fmt.Errorf("universe %s: %s %q: empty, or holds a space, comma or '='", u.Distro, what, v)
	}
	token := func(s string) bool { return s != "" && !strings.ContainsAny(s, " \t\r\n,") }
	if !token(u.Distro) || strings.Contains(u.Distro, "=") {
		return bad("distro", u.Distro)
	}
	for _, a := range u.Archs {
		if !token(a) {
			return bad("arch", a)
		}
	}
	for _, s := range u.Sources {
		if !token(s.Name) || strings.Contains(s.Name, "=") {
			return bad("source name", s.Name)
		}
		for _, v := range []string{s.URL, s.From, s.Commit, s.Date, s.Signer} {
			if v != "" && !token(v) {
				return bad("source "+s.Name+" field", v)
			}
		}
	}
	for _, p := range u.Packages {
		if !token(p.Name) || strings.Contains(p.Name, "=") || p.Name[0] == '@' || p.Name[0] == '#' {
			return bad("package name", p.Name)
		}
		if len(p.Versions) == 0 {
			return fmt.Errorf("universe %s: package %s has no versions", u.Distro, p.Name)
		}
		for _, list := range [][]string{p.Versions, p.Archs, p.Depends, p.Provides, p.Files, p.Scripts, p.ScriptFiles, {p.Origin, p.Source, p.Removed}} {
			for _, v := range list {
				if v != "" && !token(v) {
					return bad("package "+p.Name+" value", v)
				}
			}
		}
		for _, v := range p.Versions {
			if strings.Contains(v, "=") {
				return bad("package "+p.Name+" version", v)
			}
		}
	}
	return nil
}

// ReadDir reads the universe of distro from dir (a catalog's universe
// folder): the file <distro>.txt or the parts in <distro>/. A distro with
// neither is an error wrapping ErrNotExist.
func ReadDir(dir, distro string) (*Universe, error) {
	file := filepath.Join(dir, distro+Ext)
	partDir := filepath.Join(dir, distro)
	_, ferr := os.Stat(file)
	st, derr := os.Stat(partDir)
	hasDir := derr == nil && st.IsDir()
	switch {
	case ferr == nil && hasDir:
		return nil, fmt.Errorf("universe %s: both %s and %s exist; keep one (hic index import rewrites them)", distro, file, partDir)
	case ferr == nil:
		u, err := ReadFile(file)
		if err != nil {
			return nil, err
		}
		return u, checkDistro(u, distro, file)
	case !hasDir:
		return nil, fmt.Errorf("universe %s: %w in %s (want %s or %s/)", distro, ErrNotExist, dir, filepath.Base(file), distro)
	}
	entries, err := os.ReadDir(partDir)
	if err != nil {
		return nil, err
	}
	var all *Universe
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Ext) {
			continue
		}
		path := filepath.Join(partDir, e.Name())
		part, err := ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := checkDistro(part, distro, path); err != nil {
			return nil, err
		}
		if all == nil {
			all = part
			continue
		}
		if !sameHeader(all, part) {
			return nil, fmt.Errorf("%s: header differs from the other parts of %s", path, partDir)
		}
		all.Packages = append(all.Packages, part.Packages...)
	}
	if all == nil {
		return nil, fmt.Errorf("universe %s: %w: %s holds no %s files", distro, ErrNotExist, partDir, Ext)
	}
	sort.Slice(all.Packages, func(i, j int) bool { return all.Packages[i].Name < all.Packages[j].Name })
	for i := 1; i < len(all.Packages); i++ {
		if all.Packages[i].Name == all.Packages[i-1].Name {
			return nil, fmt.Errorf("universe %s: package %s is in two parts of %s", distro, all.Packages[i].Name, partDir)
		}
	}
	return all, nil
}

func checkDistro(u *Universe, distro, path string) error {
	if u.Distro != distro {
		return fmt.Errorf("%s: @distro %s, but the file is the universe of %s", path, u.Distro, distro)
	}
	return nil
}

func sameHeader(a, b *Universe) bool {
	if a.Distro != b.Distro || a.Unverified != b.Unverified || !slices.Equal(a.Archs, b.Archs) || len(a.Sources) != len(b.Sources) {
		return false
	}
	for i := range a.Sources {
		x, y := a.Sources[i], b.Sources[i]
		if x.Name != y.Name || x.URL != y.URL || x.From != y.From || x.Commit != y.Commit || x.Date != y.Date ||
			x.Signer != y.Signer || x.Unverified != y.Unverified || len(x.Indexes) != len(y.Indexes) {
			return false
		}
		for k, v := range x.Indexes {
			if y.Indexes[k] != v {
				return false
			}
		}
	}
	return true
}

// WriteDir writes u into dir as <distro>.txt, or as parts in <distro>/
// when one file would pass MaxFileSize, and removes the other form. Each
// file is replaced atomically.
func WriteDir(dir string, u *Universe) error {
	var one bytes.Buffer
	if err := Write(&one, u); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file := filepath.Join(dir, u.Distro+Ext)
	partDir := filepath.Join(dir, u.Distro)
	if one.Len() <= MaxFileSize {
		if err := fsutil.WriteFileAtomic(file, one.Bytes(), 0o644); err != nil {
			return err
		}
		return os.RemoveAll(partDir)
	}
	parts := map[string][]Package{}
	for _, p := range u.Packages {
		k := partKey(p.Name)
		parts[k] = append(parts[k], p)
	}
	if err := os.MkdirAll(partDir, 0o755); err != nil {
		return err
	}
	keep := map[string]bool{}
	for k, ps := range parts {
		var b bytes.Buffer
		if err := writeParts(&b, u, ps); err != nil {
			return err
		}
		if b.Len() >= 2<<20 {
			return fmt.Errorf("universe %s: part %s%s is %d bytes, over the repository's 2 MiB limit", u.Distro, k, Ext, b.Len())
		}
		name := k + Ext
		keep[name] = true
		if err := fsutil.WriteFileAtomic(filepath.Join(partDir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(partDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(partDir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// partKey is the part a package name goes to: its first character
// lowercased, "0" for digits and anything else.
func partKey(name string) string {
	c := name[0]
	switch {
	case 'a' <= c && c <= 'z':
		return string(c)
	case 'A' <= c && c <= 'Z':
		return string(c + 'a' - 'A')
	}
	return "0"
}

// Distros lists the distros that have a universe in dir, sorted.
func Distros(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_"):
		case e.IsDir():
			seen[n] = true
		case strings.HasSuffix(n, Ext):
			seen[strings.TrimSuffix(n, Ext)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}

// ReadCatalog reads the universes of a catalog (its universe folder) for
// distros, skipping distros that have none. The result maps distro names
// to universes.
func ReadCatalog(catalogRoot string, distros []string) (map[string]*Universe, error) {
	out := map[string]*Universe{}
	dir := Dir(catalogRoot)
	for _, d := range distros {
		u, err := ReadDir(dir, d)
		if errors.Is(err, ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[d] = u
	}
	return out, nil
}
