package inspect

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/fsutil"
)

// FS is what the checks read: an fs.FS of the root filesystem (names without a
// leading slash, "etc/passwd") that lists directories, reads files and does
// not follow symlinks on Lstat. FileInfo.Sys may be a *tar.Header, which gives
// owners.
type FS interface {
	fs.ReadDirFS
	fs.ReadFileFS
	fs.ReadLinkFS
}

// MaxRetained is the largest regular file whose content RootFS keeps (besides
// the files the checks read, which are always kept). ReadFile of a larger
// file fails with ErrNotRetained; its metadata is always there.
const MaxRetained = 1 << 20

// ErrNotRetained is returned by RootFS.ReadFile for large files whose content
// was not kept.
var ErrNotRetained = errors.New("file content not retained")

// alwaysRetain reports whether the checks read name, so its content is kept
// whatever its size.
func alwaysRetain(name string) bool {
	return strings.HasPrefix(name, "etc/") || apkDBPaths[0] == name || apkDBPaths[1] == name ||
		scriptsPaths[0] == name || scriptsPaths[1] == name || triggersPaths[0] == name || triggersPaths[1] == name
}

type node struct {
	hdr      tar.Header
	data     []byte
	retained bool
	children map[string]*node // directories only
	layer    int              // the layer that wrote the entry, the lowest 0
}

// RootFS is an in-memory root filesystem flattened from an image's layers.
// It implements FS. It is read-only and safe for concurrent reads.
type RootFS struct {
	nodes map[string]*node // cleaned name ("." for the root) -> node
	layer int              // the layer being added
}

var _ FS = (*RootFS)(nil)

// FromLayers flattens img's layers into a RootFS as FromLayerTars does,
// keeping each entry's mode bits, owners and link targets and the content
// of small files. (Not go-containerregistry's mutate.Extract: it ignores
// opaque whiteouts, so it saw a different filesystem than a runtime.)
func FromLayers(img v1.Image) (*RootFS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	rfs := newRootFS()
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("rootfs: layer %d: %w", i, err)
		}
		rfs.layer = i
		err = rfs.apply(tar.NewReader(rc), true)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return rfs, nil
}

// FromLayerTars flattens uncompressed layer tar streams, the lowest first,
// as a container runtime (containerd) does: upper entries replace lower
// ones; a whiteout .wh.NAME removes NAME as it is met, an opaque whiteout
// .wh..wh..opq what lower layers put in its directory (not what its own
// layer did). It keeps the content of the files the checks read only, so
// it reads little more than the tar headers: a reader that is an
// io.Seeker (an *os.File) skips file data.
func FromLayerTars(layers ...io.Reader) (*RootFS, error) {
	rfs := newRootFS()
	for i, l := range layers {
		rfs.layer = i
		if err := rfs.apply(tar.NewReader(l), false); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return rfs, nil
}

func newRootFS() *RootFS {
	r0 := &tar.Header{Name: ".", Typeflag: tar.TypeDir, Mode: 0o755}
	return &RootFS{nodes: map[string]*node{".": {hdr: *r0, children: map[string]*node{}}}}
}

// apply adds the entries of tr as the current layer's. retainSmall keeps
// the content of files up to MaxRetained.
func (rfs *RootFS) apply(tr *tar.Reader, retainSmall bool) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		if err := rfs.entry(h, retainSmall, func() ([]byte, error) { return io.ReadAll(tr) }); err != nil {
			return err
		}
	}
}

// entry adds one layer entry; read returns its content, and is called only
// for a regular file whose content is kept.
func (rfs *RootFS) entry(h *tar.Header, retainSmall bool, read func() ([]byte, error)) error {
	name := cleanName(h.Name)
	dir, base := path.Split(name)
	if base == ".wh..wh..opq" {
		rfs.removeLower(cleanName(dir))
		return nil
	}
	if strings.HasPrefix(base, ".wh.") {
		rfs.remove(cleanName(dir + strings.TrimPrefix(base, ".wh.")))
		return nil
	}
	n := &node{hdr: *h, layer: rfs.layer}
	n.hdr.Name = name
	switch h.Typeflag {
	case tar.TypeDir:
		n.children = map[string]*node{}
		if old, ok := rfs.nodes[name]; ok && old.children != nil {
			n.children = old.children
		}
	case tar.TypeReg, tar.TypeRegA:
		if (retainSmall && h.Size <= MaxRetained) || alwaysRetain(name) {
			b, err := read()
			if err != nil {
				return fmt.Errorf("rootfs: %s: %w", name, err)
			}
			n.data, n.retained = b, true
		}
	}
	if name == "." {
		n.hdr.Typeflag = tar.TypeDir
		if n.children == nil {
			n.children = rfs.nodes["."].children
		}
		rfs.nodes["."] = n
		return nil
	}
	if old, ok := rfs.nodes[name]; ok && old.children != nil && n.children == nil {
		rfs.remove(name) // a file replaces a directory and what is in it
	}
	rfs.add(name, n)
	return nil
}

// Layers flattens layers given entry by entry, as FromLayerTars flattens
// their tar streams: for layers whose entries are known without their tars.
type Layers struct{ rfs *RootFS }

// NewLayers returns an empty flattening.
func NewLayers() *Layers { return &Layers{rfs: newRootFS()} }

// NextLayer starts the next layer: the entries added after it are its.
func (l *Layers) NextLayer() { l.rfs.layer++ }

// Add adds the next entry of the current layer, the lowest layer first.
// read returns a regular file's content; it is called only for the files
// the checks read.
func (l *Layers) Add(h *tar.Header, read func() ([]byte, error)) error {
	return l.rfs.entry(h, false, read)
}

// RootFS returns the flattened filesystem; Add must not be called after.
func (l *Layers) RootFS() *RootFS { return l.rfs }

// removeLower deletes what layers below the current one put in the
// directory dir, keeping what the current layer wrote.
func (r *RootFS) removeLower(dir string) {
	d, ok := r.nodes[dir]
	if !ok || d.children == nil {
		return
	}
	for c, n := range d.children {
		child := path.Join(dir, c)
		switch {
		case n.layer < r.layer && !r.holdsCurrent(n):
			r.remove(child)
		case n.children != nil:
			r.removeLower(child) // a directory the current layer wrote in
		}
	}
}

// holdsCurrent reports whether the current layer wrote something below n.
func (r *RootFS) holdsCurrent(n *node) bool {
	for _, c := range n.children {
		if c.layer == r.layer || r.holdsCurrent(c) {
			return true
		}
	}
	return false
}

// remove deletes name and everything below it.
func (r *RootFS) remove(name string) {
	n, ok := r.nodes[name]
	if !ok || name == "." {
		return
	}
	for c := range n.children {
		r.remove(path.Join(name, c))
	}
	delete(r.nodes, name)
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if p, ok := r.nodes[dir]; ok && p.children != nil {
		delete(p.children, base)
	}
}

func cleanName(name string) string {
	name = path.Clean("/" + name)
	if name == "/" {
		return "."
	}
	return name[1:]
}

// add links n under its parent, creating missing parent directories.
func (r *RootFS) add(name string, n *node) {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	p, ok := r.nodes[dir]
	if !ok || p.children == nil {
		p = &node{hdr: tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}, children: map[string]*node{}}
		if dir != "." {
			r.add(dir, p)
		}
	}
	p.children[base] = n
	r.nodes[name] = n
}

func (r *RootFS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, ok := r.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Lstat describes name without following a final symlink.
func (r *RootFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := r.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return n.hdr.FileInfo(), nil
}

// ReadLink returns a symlink's target as stored.
func (r *RootFS) ReadLink(name string) (string, error) {
	n, err := r.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.hdr.Typeflag != tar.TypeSymlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.hdr.Linkname, nil
}

// follow resolves symlinks (anywhere in name) inside the root.
func (r *RootFS) follow(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p, err := Resolve(r, name)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	n, err := r.lookup(op, p)
	if err != nil {
		return nil, err
	}
	if n.hdr.Typeflag == tar.TypeLink { // hard link: content of the target
		if t, ok := r.nodes[cleanName(n.hdr.Linkname)]; ok {
			c := *t
			c.hdr = n.hdr
			c.hdr.Typeflag = tar.TypeReg
			c.hdr.Size = t.hdr.Size
			return &c, nil
		}
	}
	return n, nil
}

// ReadFile returns the content of a regular file, following symlinks.
func (r *RootFS) ReadFile(name string) ([]byte, error) {
	n, err := r.follow("readfile", name)
	if err != nil {
		return nil, err
	}
	if n.children != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	if !n.retained {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: ErrNotRetained}
	}
	return bytes.Clone(n.data), nil
}

// ReadDir lists a directory sorted by name, following symlinks.
func (r *RootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := r.follow("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, fs.FileInfoToDirEntry(c.hdr.FileInfo()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Open opens a file or directory, following symlinks.
func (r *RootFS) Open(name string) (fs.File, error) {
	n, err := r.follow("open", name)
	if err != nil {
		return nil, err
	}
	f := &openFile{fi: n.hdr.FileInfo()}
	if n.children != nil {
		ents, err := r.ReadDir(name)
		if err != nil {
			return nil, err
		}
		f.ents = ents
		return f, nil
	}
	if !n.retained {
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrNotRetained}
	}
	f.r = bytes.NewReader(n.data)
	return f, nil
}

type openFile struct {
	fi   fs.FileInfo
	r    *bytes.Reader
	ents []fs.DirEntry
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.fi, nil }
func (f *openFile) Close() error               { return nil }
func (f *openFile) Read(b []byte) (int, error) {
	if f.r == nil {
		return 0, errors.New("is a directory")
	}
	return f.r.Read(b)
}
func (f *openFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if f.r != nil {
		return nil, errors.New("not a directory")
	}
	return fsutil.ReadDirNext(&f.ents, n)
}

// maxHops bounds symlink resolution, as Linux's MAXSYMLINKS does.
const maxHops = 40

// Resolve returns the path name refers to inside fsys after following every
// symlink on the way (absolute targets are relative to the root of fsys; ".."
// never leaves the root). The final component need not exist; an intermediate
// one must.
func Resolve(fsys fs.ReadLinkFS, name string) (string, error) {
	hops := 0
	todo := strings.Split(cleanName(name), "/")
	if len(todo) == 1 && todo[0] == "." {
		return ".", nil
	}
	var done []string
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".", "":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := path.Join(append(done, c)...)
		fi, err := fsys.Lstat(cur)
		if err != nil {
			if len(todo) == 0 && errors.Is(err, fs.ErrNotExist) {
				return cur, nil
			}
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if hops++; hops > maxHops {
			return "", fmt.Errorf("%s: too many levels of symbolic links", name)
		}
		target, err := fsys.ReadLink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}
