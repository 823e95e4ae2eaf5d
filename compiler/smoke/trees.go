package smoke

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// DefaultTreeBudget bounds the bytes of the layer trees a LayerTrees keeps
// that no root filesystem uses at the moment.
const DefaultTreeBudget = 2 << 30

// LayerTrees makes root filesystems for the smoke tests from layers
// extracted once each: a layer's regular files are decompressed and written
// once, under the layer's diff ID, and every root filesystem that holds
// the layer gets hard links to them. The images of one catalog build share
// most of their layers (runtime and dev variants, streams of one image), so
// this writes and decompresses the unique layer bytes instead of every
// image's. The sandbox binds a root filesystem read-only, so no test can
// change a file another image's tests see.
//
// A layer's tar is hashed as it is extracted and must hash to its diff ID;
// what an image's root filesystem holds is what Extract would write (the
// same names, types, permission bits, owners when chown is set, and
// contents), with hard links allowed across layers. Trees no root
// filesystem uses are removed, least recently used first, while they hold
// more than the budget. Everything lives under one directory, made when
// the first root filesystem or Feed is (a build without smoke tests, or
// one killed before them, leaves nothing behind), which Close removes.
type LayerTrees struct {
	parent string
	chown  bool
	budget int64

	mu     sync.Mutex // guards the fields below and each tree's refs, used and size
	dir    string     // "" until made
	trees  map[v1.Hash]*layerTree
	idle   int64 // bytes of trees with no references
	clock  int64
	closed bool
	// extracted counts layer extractions and fed the trees Feeds made,
	// for tests.
	extracted, fed int
}

// layerTree is one extracted layer: its entries in tar order, each regular
// file's content in the tree's directory under the entry's index (a plain
// name: no path of the layer's is ever resolved there).
type layerTree struct {
	dir     string
	ready   chan struct{} // closed when entries or err is set
	entries []treeEntry
	err     error
	size    int64
	refs    int
	used    int64
}

type treeEntry struct {
	name     string // cleaned, relative
	typeflag byte   // tar.TypeDir, TypeReg, TypeSymlink, TypeLink, or whiteout/opaque below
	mode     fs.FileMode
	uid, gid int
	linkname string // symlink target; for TypeLink, the cleaned target name
	file     string // TypeReg: the content's name in the tree's directory
}

const (
	typeWhiteout byte = 'W' // name: the path a higher layer removes
	typeOpaque   byte = 'O' // name: the directory whose lower contents go
)

// NewLayerTrees returns a LayerTrees whose directory will be a new one
// under parent (empty: os.TempDir()). chown gives files their image owners
// (hic runs as root); budget bounds the unused trees' bytes (<= 0:
// DefaultTreeBudget).
func NewLayerTrees(parent string, chown bool, budget int64) *LayerTrees {
	if budget <= 0 {
		budget = DefaultTreeBudget
	}
	return &LayerTrees{parent: parent, chown: chown, budget: budget, trees: map[v1.Hash]*layerTree{}}
}

// dirLocked returns the directory, made on the first call.
func (t *LayerTrees) dirLocked() (string, error) {
	if t.closed {
		return "", errors.New("smoke layer trees are closed")
	}
	if t.dir != "" {
		return t.dir, nil
	}
	dir, err := os.MkdirTemp(t.parent, "hic-smoke-layers-")
	if err != nil {
		return "", fmt.Errorf("smoke layer trees: %w", err)
	}
	// The sandbox starts as the image's user, who must reach the trees.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("smoke layer trees: %w", err)
	}
	t.dir = dir
	return dir, nil
}

// Close removes every tree and root filesystem. The LayerTrees is not used
// after.
func (t *LayerTrees) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	t.closed = true
	dir := t.dir
	t.mu.Unlock()
	if dir == "" {
		return nil
	}
	makeRemovable(dir)
	return os.RemoveAll(dir)
}

// Rootfs writes img's flattened root filesystem into a new directory and
// returns it with the function that removes it.
func (t *LayerTrees) Rootfs(ctx context.Context, img v1.Image) (string, func(), error) {
	layers, err := img.Layers()
	if err != nil {
		return "", nil, err
	}
	var held []*layerTree
	release := func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, lt := range held {
			lt.refs--
			if lt.refs == 0 {
				t.idle += lt.size
			}
		}
		t.evictLocked()
	}
	for _, l := range layers {
		lt, err := t.tree(ctx, l)
		if err != nil {
			release()
			return "", nil, err
		}
		held = append(held, lt)
	}
	t.mu.Lock()
	parent, err := t.dirLocked()
	t.mu.Unlock()
	var dir string
	if err == nil {
		dir, err = os.MkdirTemp(parent, "rootfs-")
	}
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		err = t.assemble(ctx, dir, held)
	}
	done := func() {
		if dir != "" {
			makeRemovable(dir)
			os.RemoveAll(dir)
		}
		release()
	}
	if err != nil {
		done()
		return "", nil, err
	}
	return dir, done, nil
}

// tree returns layer l's tree, extracting it if no caller has, with one
// reference taken.
func (t *LayerTrees) tree(ctx context.Context, l v1.Layer) (*layerTree, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("layer diff ID: %w", err)
	}
	t.mu.Lock()
	parent, err := t.dirLocked()
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	lt, ok := t.trees[diffID]
	if ok {
		if lt.refs == 0 {
			t.idle -= lt.size
		}
		lt.refs++
		t.clock++
		lt.used = t.clock
		t.mu.Unlock()
		select {
		case <-lt.ready:
		case <-ctx.Done():
			t.unref(lt)
			return nil, ctx.Err()
		}
		if lt.err != nil {
			t.unref(lt)
			if errors.Is(lt.err, context.Canceled) || errors.Is(lt.err, context.DeadlineExceeded) {
				return t.tree(ctx, l) // the extracting caller gave up, not this one
			}
			return nil, lt.err
		}
		return lt, nil
	}
	t.clock++
	lt = &layerTree{dir: filepath.Join(parent, "layer-"+diffID.Hex), ready: make(chan struct{}), refs: 1, used: t.clock}
	t.trees[diffID] = lt
	t.extracted++
	t.mu.Unlock()

	size, entries, err := t.extract(ctx, l, diffID, lt.dir)
	if err != nil {
		os.RemoveAll(lt.dir) // before a later caller may make it again
	}
	t.mu.Lock()
	lt.entries, lt.size, lt.err = entries, size, err
	if err != nil {
		delete(t.trees, diffID) // a later caller tries again
	}
	t.mu.Unlock()
	close(lt.ready)
	if err != nil {
		t.unref(lt)
		return nil, fmt.Errorf("layer %s: %w", diffID, err)
	}
	return lt, nil
}

func (t *LayerTrees) unref(lt *layerTree) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lt.refs--
	if lt.refs == 0 && lt.err == nil {
		t.idle += lt.size
	}
	t.evictLocked()
}

// evictLocked removes unused trees, least recently used first, while they
// hold more than the budget.
func (t *LayerTrees) evictLocked() {
	for t.idle > t.budget {
		var oldest *layerTree
		var key v1.Hash
		for k, lt := range t.trees {
			if lt.refs == 0 && (oldest == nil || lt.used < oldest.used) {
				oldest, key = lt, k
			}
		}
		if oldest == nil {
			return
		}
		delete(t.trees, key)
		t.idle -= oldest.size
		os.RemoveAll(oldest.dir)
	}
}

// extract writes the regular files of layer l into dir and returns their
// bytes and the layer's entries. The tar must hash to diffID.
func (t *LayerTrees) extract(ctx context.Context, l v1.Layer, diffID v1.Hash, dir string) (int64, []treeEntry, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, nil, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, nil, err
	}
	defer rc.Close()
	h := sha256.New()
	size, entries, err := t.readTree(ctx, tar.NewReader(io.TeeReader(rc, h)), dir)
	if err != nil {
		return 0, nil, err
	}
	// The hash covers the whole tar, the padding after its last entry too.
	if _, err := io.Copy(h, rc); err != nil {
		return 0, nil, fmt.Errorf("read: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID.String() {
		return 0, nil, fmt.Errorf("the layer's tar hashes to %s, not its diff ID: it was altered", got)
	}
	return size, entries, nil
}

// readTree writes the regular files of the layer tar tr reads into dir and
// returns their bytes and the layer's entries.
func (t *LayerTrees) readTree(ctx context.Context, tr *tar.Reader, dir string) (int64, []treeEntry, error) {
	var (
		entries []treeEntry
		size    int64
	)
	for {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("read: %w", err)
		}
		// Names that climb out of the root and relative links whose
		// targets do are left out, as mutate.Extract (and so Extract) does.
		if c := path.Clean(hdr.Name); c == ".." || strings.HasPrefix(c, "../") {
			continue
		}
		if (hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink) && !path.IsAbs(hdr.Linkname) &&
			strings.HasPrefix(path.Clean(path.Join(path.Dir(path.Clean(hdr.Name)), hdr.Linkname)), "..") {
			continue
		}
		name := path.Clean("/" + hdr.Name)[1:]
		if name == "" {
			continue
		}
		e := treeEntry{name: name, typeflag: hdr.Typeflag, mode: fs.FileMode(hdr.Mode).Perm(), uid: hdr.Uid, gid: hdr.Gid}
		base := path.Base(name)
		switch {
		case base == ".wh..wh..opq":
			e.typeflag, e.name = typeOpaque, path.Dir(name)
		case strings.HasPrefix(base, ".wh."):
			e.typeflag, e.name = typeWhiteout, path.Join(path.Dir(name), strings.TrimPrefix(base, ".wh."))
		case hdr.Typeflag == tar.TypeReg:
			e.file = strconv.Itoa(len(entries))
			n, err := t.writeFile(filepath.Join(dir, e.file), tr, e)
			if err != nil {
				return 0, nil, fmt.Errorf("%s: %w", name, err)
			}
			size += n
		case hdr.Typeflag == tar.TypeSymlink:
			e.linkname = hdr.Linkname
		case hdr.Typeflag == tar.TypeLink:
			e.linkname = path.Clean("/" + hdr.Linkname)[1:]
		case hdr.Typeflag == tar.TypeDir:
		default:
			continue // devices, FIFOs: the sandbox has its own /dev
		}
		entries = append(entries, e)
	}
	return size, entries, nil
}

func (t *LayerTrees) writeFile(name string, r io.Reader, e treeEntry) (int64, error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && t.chown {
		err = os.Lchown(name, e.uid, e.gid)
	}
	if err == nil {
		err = os.Chmod(name, e.mode)
	}
	return n, err
}

// assemble writes the root filesystem of trees, bottom layer first, into
// dir: every write goes through an os.Root, so no entry reaches outside
// dir, and regular files are hard links to the trees' files.
func (t *LayerTrees) assemble(ctx context.Context, dir string, trees []*layerTree) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	type dirMeta struct {
		mode     fs.FileMode
		uid, gid int
	}
	dirs := map[string]dirMeta{}
	var dirOrder []string
	// forget drops the directories at and under name, which went, from
	// those whose owners and modes are set at the end.
	forget := func(name string, self bool) {
		for d := range dirs {
			if (self && d == name) || strings.HasPrefix(d, name+"/") || name == "." {
				delete(dirs, d)
			}
		}
	}
	for _, lt := range trees {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Whiteouts and opaque directories hide what the layers below put
		// there, not what their own layer does.
		for _, e := range lt.entries {
			switch e.typeflag {
			case typeOpaque:
				if err := emptyDir(root, e.name); err != nil {
					return fmt.Errorf("%s: %w", e.name, err)
				}
				forget(e.name, false)
			case typeWhiteout:
				if err := root.RemoveAll(e.name); err != nil {
					return fmt.Errorf("%s: %w", e.name, err)
				}
				forget(e.name, true)
			}
		}
		for _, e := range lt.entries {
			if e.typeflag == typeOpaque || e.typeflag == typeWhiteout {
				continue
			}
			if d := path.Dir(e.name); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("%s: %w", e.name, err)
				}
			}
			if e.typeflag == tar.TypeDir {
				if fi, err := root.Lstat(e.name); err == nil && !fi.IsDir() {
					if err := root.Remove(e.name); err != nil {
						return fmt.Errorf("%s: %w", e.name, err)
					}
				}
				if err := root.MkdirAll(e.name, 0o755); err != nil {
					return fmt.Errorf("%s: %w", e.name, err)
				}
				if _, seen := dirs[e.name]; !seen {
					dirOrder = append(dirOrder, e.name)
				}
				dirs[e.name] = dirMeta{e.mode, e.uid, e.gid}
				continue
			}
			if err := root.RemoveAll(e.name); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
			if _, wasDir := dirs[e.name]; wasDir {
				forget(e.name, true)
			}
			switch e.typeflag {
			case tar.TypeReg:
				err = linkInto(root, filepath.Join(lt.dir, e.file), e.name)
			case tar.TypeSymlink:
				if err = root.Symlink(e.linkname, e.name); err == nil && t.chown {
					err = root.Lchown(e.name, e.uid, e.gid)
				}
			case tar.TypeLink:
				err = root.Link(e.linkname, e.name)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		}
	}
	for _, m := range []string{"dev", "proc", "tmp"} {
		if err := root.Mkdir(m, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("mount point /%s: %w", m, err)
		}
	}
	// Owners and modes of directories last, deepest first, so a read-only
	// directory did not stop its own entries from being written.
	for i := len(dirOrder) - 1; i >= 0; i-- {
		name := dirOrder[i]
		m, ok := dirs[name]
		if !ok {
			continue
		}
		if err := setDir(root, name, m.mode, m.uid, m.gid, t.chown); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// setDir gives the directory name, inside root, its mode and (with chown)
// owner, through the directory itself opened without following a link: a
// name that is no longer a directory of this root filesystem (a higher
// layer put a file or a link there, or a link in its path now leads to a
// tree's shared file) is left as it is.
func setDir(root *os.Root, name string, mode fs.FileMode, uid, gid int, chown bool) error {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
			return nil
		}
		return err
	}
	defer f.Close()
	if chown {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	return f.Chmod(mode)
}

// linkInto makes name, inside root, a hard link to the file src (a tree's
// file: a path of no layer's). The parent directory is opened through root,
// so a symbolic link in name cannot lead the link outside it.
func linkInto(root *os.Root, src, name string) error {
	parent, err := root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer parent.Close()
	if fi, err := parent.Stat(); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", path.Dir(name))
	}
	if err := unix.Linkat(unix.AT_FDCWD, src, int(parent.Fd()), path.Base(name), 0); err != nil {
		return &os.LinkError{Op: "link", Old: src, New: name, Err: err}
	}
	return nil
}

// emptyDir removes what dir, inside root, holds, if it exists.
func emptyDir(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil // not a directory: nothing below it to hide
	}
	for _, n := range names {
		if err := root.RemoveAll(path.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}
