package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/mod/modfile"
	"cuelang.org/go/mod/module"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/fsutil"
)

// RuleSandbox is the rule of the catalog sandbox: nothing outside the
// catalog root, and nothing but directories and regular files in it, reaches
// the loader (and so an image).
const RuleSandbox = "catalog-sandbox"

// sandbox is the catalog as CUE's loader sees it, for every read it makes:
// catalog files, parent-directory files, cue.mod, imports of the catalog's own
// packages (refused, but still read) and @embed. Paths are slash-separated and relative to the catalog
// root. Files are read through an os.Root, so neither ".." nor a symlink
// leads outside the root; anything but a directory or a regular file (a FIFO,
// a device, a socket) is refused before it is opened for reading, so it can
// neither block the load nor feed it. The overlay sits on top, as
// load.Config.Overlay would (the loader takes an FS or an overlay, not both).
type sandbox struct {
	root    *os.Root // nil when the catalog exists only as an overlay
	overlay map[string][]byte
	odirs   map[string]map[string]bool // overlay directory -> names of its children

	mu      sync.Mutex
	refused map[string]string // path -> why it was left out of a directory listing
	// dirs memoises ReadDir for the load: CUE's loader lists the root once
	// per instance and every folder several times (3,000 listings for 380
	// folders), and a listing through the os.Root stats every entry.
	dirs map[string]dirListing
}

type dirListing struct {
	ents []fs.DirEntry
	err  error
}

// errSandbox marks a path the sandbox refuses.
var errSandbox = errors.New("outside the catalog sandbox")

func newSandbox(absRoot string, overlay map[string][]byte) (*sandbox, error) {
	sb := &sandbox{overlay: map[string][]byte{}, odirs: map[string]map[string]bool{}, refused: map[string]string{}, dirs: map[string]dirListing{}}
	if r, err := os.OpenRoot(absRoot); err == nil {
		sb.root = r
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("catalog %s: %w", absRoot, err)
	}
	for rel, src := range overlay {
		sb.add(path.Clean(strings.TrimPrefix(filepathToSlash(rel), "/")), src)
	}
	return sb, nil
}

func filepathToSlash(p string) string { return strings.ReplaceAll(p, string(os.PathSeparator), "/") }

// add puts a file into the overlay, with its parent directories.
func (sb *sandbox) add(name string, src []byte) {
	sb.overlay[name] = src
	for child := name; child != "."; {
		dir := path.Dir(child)
		if sb.odirs[dir] == nil {
			sb.odirs[dir] = map[string]bool{}
		}
		sb.odirs[dir][path.Base(child)] = true
		child = dir
	}
}

// Close releases the root.
func (sb *sandbox) Close() error {
	if sb.root == nil {
		return nil
	}
	return sb.root.Close()
}

// Refused lists, sorted, the entries left out of directory listings and why.
func (sb *sandbox) Refused() map[string]string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return maps.Clone(sb.refused)
}

func (sb *sandbox) refuse(name, why string) {
	sb.mu.Lock()
	sb.refused[name] = why
	sb.mu.Unlock()
}

// check says why name may not be read, or "" when it is a directory or a
// regular file inside the root (following symlinks that stay inside).
func (sb *sandbox) check(name string) (fs.FileInfo, string, error) {
	if sb.root == nil {
		return nil, "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	fi, err := sb.root.Stat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
		if lfi, lerr := sb.root.Lstat(name); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			target, _ := sb.root.Readlink(name)
			return nil, fmt.Sprintf("a symlink to %s, which is outside the catalog root", target), nil
		}
		return nil, fmt.Sprintf("cannot be read inside the catalog root (%v)", unwrapPath(err)), nil
	}
	if fi.IsDir() || fi.Mode().IsRegular() {
		return fi, "", nil
	}
	return nil, "not a regular file (" + kind(fi.Mode()) + ")", nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "mode " + m.String()
}

func refusedErr(name, why string) error {
	return &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: %s is %s", errSandbox, name, why)}
}

// Open implements fs.FS.
func (sb *sandbox) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if src, ok := sb.overlay[name]; ok {
		return &memFile{info: memInfo{name: path.Base(name), size: int64(len(src))}, r: strings.NewReader(string(src))}, nil
	}
	fi, why, err := sb.check(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && sb.odirs[name] != nil {
			return &memDir{sb: sb, name: name}, nil
		}
		return nil, err
	}
	if why != "" {
		sb.refuse(name, why)
		return nil, refusedErr(name, why)
	}
	if fi.IsDir() {
		return &memDir{sb: sb, name: name, info: fi}, nil
	}
	// O_NONBLOCK: should the file have been swapped for a FIFO since the
	// check, opening it does not wait for a writer; the fstat below refuses it.
	f, err := sb.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, refusedErr(name, "not a regular file ("+kind(fi.Mode())+")")
	}
	return f, nil
}

// ReadFile implements fs.ReadFileFS.
func (sb *sandbox) ReadFile(name string) ([]byte, error) {
	f, err := sb.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, ok := f.(*memDir); ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return io.ReadAll(f)
}

// Stat implements fs.StatFS.
func (sb *sandbox) Stat(name string) (fs.FileInfo, error) {
	f, err := sb.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// ReadDir implements fs.ReadDirFS: the directory's entries inside the
// sandbox, merged with the overlay. Entries it cannot allow are left out
// and recorded (Refused), so a load reports them instead of reading them.
// A directory is read from disk once per sandbox (one load).
func (sb *sandbox) ReadDir(name string) ([]fs.DirEntry, error) {
	sb.mu.Lock()
	l, ok := sb.dirs[name]
	sb.mu.Unlock()
	if !ok {
		l.ents, l.err = sb.readDir(name)
		sb.mu.Lock()
		sb.dirs[name] = l
		sb.mu.Unlock()
	}
	return slices.Clone(l.ents), l.err
}

func (sb *sandbox) readDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	byName := map[string]fs.DirEntry{}
	var diskErr error
	if sb.root != nil {
		if fi, why, err := sb.check(name); err != nil {
			diskErr = err
		} else if why != "" {
			return nil, refusedErr(name, why)
		} else if !fi.IsDir() {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
		} else if d, err := sb.root.Open(name); err != nil {
			diskErr = err
		} else {
			ents, err := d.ReadDir(-1)
			d.Close()
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				child := path.Join(name, e.Name())
				t := e.Type()
				if t.IsDir() || t.IsRegular() {
					byName[e.Name()] = e
					continue
				}
				fi, why, err := sb.check(child)
				switch {
				case err != nil: // a dangling symlink: nothing to read
				case why != "":
					sb.refuse(child, why)
				default:
					byName[e.Name()] = fs.FileInfoToDirEntry(renamed{fi, e.Name()})
				}
			}
		}
	} else {
		diskErr = &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	if sb.odirs[name] == nil && diskErr != nil {
		return nil, diskErr
	}
	for child := range sb.odirs[name] {
		full := path.Join(name, child)
		if src, ok := sb.overlay[full]; ok {
			byName[child] = fs.FileInfoToDirEntry(memInfo{name: child, size: int64(len(src))})
		} else if _, ok := byName[child]; !ok {
			byName[child] = fs.FileInfoToDirEntry(memInfo{name: child, dir: true})
		}
	}
	out := make([]fs.DirEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// renamed reports a symlink's target under the link's name.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (m memInfo) Name() string { return m.name }
func (m memInfo) Size() int64  { return m.size }
func (m memInfo) Mode() fs.FileMode {
	if m.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (m memInfo) ModTime() time.Time { return time.Time{} }
func (m memInfo) IsDir() bool        { return m.dir }
func (m memInfo) Sys() any           { return nil }

type memFile struct {
	info memInfo
	r    *strings.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *memFile) Close() error               { return nil }

// memDir is a directory of the sandbox; its entries come from ReadDir.
type memDir struct {
	sb   *sandbox
	name string
	info fs.FileInfo
	ents []fs.DirEntry
	read bool
}

func (d *memDir) Stat() (fs.FileInfo, error) {
	if d.info != nil {
		return d.info, nil
	}
	return memInfo{name: path.Base(d.name), dir: true}, nil
}
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}
func (d *memDir) Close() error { return nil }
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.sb.ReadDir(d.name)
		if err != nil {
			return nil, err
		}
		d.ents, d.read = ents, true
	}
	return fsutil.ReadDirNext(&d.ents, n)
}

var (
	_ fs.ReadDirFS   = (*sandbox)(nil)
	_ fs.ReadFileFS  = (*sandbox)(nil)
	_ fs.StatFS      = (*sandbox)(nil)
	_ fs.ReadDirFile = (*memDir)(nil)
)

// noRegistry refuses every CUE module dependency: a catalog imports the
// standard library only, so loading it never reaches
// a registry (the network) or a module outside the root.
type noRegistry struct{}

func (noRegistry) err(m string) error {
	return fmt.Errorf("%w: the catalog imports CUE module %s; a catalog may import only the CUE standard library", errSandbox, m)
}
func (r noRegistry) ModFile(_ context.Context, mv module.Version) (*modfile.File, error) {
	return nil, r.err(mv.String())
}
func (r noRegistry) Fetch(_ context.Context, mv module.Version) (module.SourceLoc, error) {
	return module.SourceLoc{}, r.err(mv.String())
}
func (r noRegistry) ModuleVersions(_ context.Context, mpath string) ([]string, error) {
	return nil, r.err(mpath)
}

// embedFindings reports every @embed attribute of the catalog's files that
// names a file the sandbox refuses, at the attribute: CUE itself says only
// "no such file" for it. srcs holds the files' contents.
//
// It also reports every import of a package that is not in CUE's
// standard library, the catalog's own packages included.
func embedFindings(sb *sandbox, tr *translator, files []string, srcs map[string][]byte) []finding.Finding {
	var out []finding.Finding
	module := modulePath(sb)
	for _, rel := range files {
		name := filepath.ToSlash(rel)
		src, ok := srcs[rel]
		if !ok || !bytes.Contains(src, []byte("@embed")) && !bytes.Contains(src, []byte("import")) {
			continue
		}
		f, err := parser.ParseFile(name, src, parser.ParseComments)
		if err != nil {
			continue
		}
		for imp := range f.ImportSpecs() {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil || stdlibImport(ip) {
				continue
			}
			p := tr.pos(imp.Path.Pos())
			p.File = rel
			fd := finding.Finding{
				Rule: RuleSandbox, Severity: finding.Error, Pos: p,
				Message: fmt.Sprintf("import %q reaches outside the catalog: a catalog imports only CUE's standard library", ip),
				Hint:    "copy what you need into the image's file, or move it into schema/ (in review)",
			}
			if ownModule(ip, module) {
				// The package's files lie outside every image folder
				// (a folder of package hic is an image's, so it is
				// in testdata/, _*/ or .*/, which the catalog skips):
				// what they give an image no layout rule, vet or
				// reviewer of catalog/NAME/NAME.cue sees.
				fd.Message = fmt.Sprintf("import %q is a package of the catalog's own module %s: a catalog imports only CUE's standard library, so that each image is stated whole in catalog/NAME/NAME.cue, where vet and the layout rule read it", ip, module)
				fd.Hint = "move what the package says into the image files that use it (a helper in a hidden field, _name), and remove the import: until then the folder's images are not evaluated"
			}
			out = append(out, fd)
		}
		dir := path.Dir(name)
		ast.Walk(f, func(n ast.Node) bool {
			a, ok := n.(*ast.Attribute)
			if !ok {
				return true
			}
			key, body := a.Split()
			if key != "embed" {
				return true
			}
			for _, arg := range strings.Split(body, ",") {
				k, v, ok := strings.Cut(strings.TrimSpace(arg), "=")
				if !ok || (k != "file" && k != "glob") {
					continue
				}
				v = strings.TrimSpace(v)
				if u, err := strconv.Unquote(v); err == nil {
					v = u
				}
				for _, why := range sb.embedRefusals(dir, k == "glob", v) {
					p := tr.pos(a.Pos())
					p.File = rel
					out = append(out, finding.Finding{
						Rule: RuleSandbox, Severity: finding.Error, Pos: p,
						Message: fmt.Sprintf("@embed(%s=%s) reads %s", k, v, why),
						Hint:    "embed only regular files inside the catalog, next to the file that embeds them",
					})
				}
			}
			return true
		}, nil)
	}
	return out
}

// embedRefusals says, for an @embed file name or glob relative to dir, why
// each file it would read is refused (nothing when all are allowed).
func (sb *sandbox) embedRefusals(dir string, glob bool, pattern string) []string {
	full := path.Join(dir, pattern)
	if strings.HasPrefix(pattern, "/") || full == ".." || strings.HasPrefix(full, "../") {
		return []string{fmt.Sprintf("%s, which is outside the catalog root", pattern)}
	}
	if !glob {
		_, why, err := sb.check(full)
		if err != nil || why == "" {
			return nil
		}
		return []string{full + ", " + why}
	}
	var out []string
	_, _ = fs.Glob(sb, full) // lists the directories, recording refusals
	refused := sb.Refused()
	var names []string
	for p := range refused {
		if ok, _ := path.Match(full, p); ok {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	for _, p := range names {
		out = append(out, p+", "+refused[p])
	}
	return out
}

// modulePath is the catalog's CUE module path, without a major version.
func modulePath(sb *sandbox) string {
	src, err := sb.ReadFile("cue.mod/module.cue")
	if err != nil {
		return ""
	}
	m := reModule.FindSubmatch(src)
	if m == nil {
		return ""
	}
	mod, _, _ := strings.Cut(string(m[1]), "@")
	return mod
}

var reModule = regexp.MustCompile(`(?m)^\s*module:\s*"([^"]+)"`)

// stdlibImport: a package of CUE's standard library (no dot in the first
// path element), the only packages a catalog imports.
func stdlibImport(ip string) bool {
	ip, _, _ = strings.Cut(ip, "@")
	ip, _, _ = strings.Cut(ip, ":")
	first, _, _ := strings.Cut(ip, "/")
	return !strings.Contains(first, ".")
}

// ownModule: a package of the catalog's own CUE module.
func ownModule(ip, module string) bool {
	ip, _, _ = strings.Cut(ip, "@")
	ip, _, _ = strings.Cut(ip, ":")
	return module != "" && (ip == module || strings.HasPrefix(ip, module+"/"))
}
