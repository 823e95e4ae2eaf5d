package build

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"

	"chainguard.dev/apko/pkg/apk/apk"
	apkobuild "chainguard.dev/apko/pkg/build"
	"chainguard.dev/apko/pkg/passwd"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
	"golang.org/x/sys/unix"

	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/layercache"
)

// hic lays out an installed image itself, as apko's "origin" layering
// (BuildLayers) does, byte for byte: one layer per group of packages (by
// origin, merged where one replaces another, the largest Budget-1 groups
// kept and the rest merged), each with its files and the directories above
// them (a directory's modification time taken from the entry that made the
// layer write it) and its packages' part of the installed database, then a
// top layer with everything no package owns.
//
// Unlike apko it first describes each layer, entry by entry, without writing
// it: every tar header in order and, for each file's content, either the
// package file it is (package, version and checksum, path in the package's
// data, size: a file apko installed and nothing rewrote) or the hash of the
// content (any other file). The description, with the versions of apko, the
// compressor and Go (whose archive/tar writes the headers), keys the layer
// cache (layercache.Input): a layer the cache holds is neither written, nor
// hashed, nor compressed. The post-build checks read the descriptions too.

// layoutVersion names this file's way of laying out layers; it is part of
// every layer's description. Change it with anything that changes the
// bytes a description stands for.
const layoutVersion = "hic layout 1 (apko origin layering)"

// layerEntry is one tar entry of a planned layer.
type layerEntry struct {
	hdr  tar.Header
	path string // a regular file with content: its path in the tree
	data []byte // or its content (the installed database part)
	own  *apk.Package
}

type plannedLayer struct {
	entries []layerEntry
	stack   []*treeFile
}

func (l *plannedLayer) add(hdr tar.Header, p string, data []byte, own *apk.Package) {
	l.entries = append(l.entries, layerEntry{hdr: hdr, path: p, data: data, own: own})
}

// align brings the layer's directory stack to stack and returns the
// directories the layer has not written yet.
func (l *plannedLayer) align(stack []*treeFile) []*treeFile {
	for i := 0; i < max(len(l.stack), len(stack)); i++ {
		if i >= len(stack) {
			l.stack = l.stack[:i]
			return nil
		}
		if i < len(l.stack) && l.stack[i] == stack[i] {
			continue
		}
		l.stack = append(l.stack[:i], stack[i:]...)
		return l.stack[i:]
	}
	return nil
}

type treeFile struct {
	path   string
	info   fs.FileInfo
	header *tar.Header
}

// walkTree calls fn for every entry of fsys but the root, in lexical order,
// with the tar header the entry has in a layer.
func walkTree(ctx context.Context, fsys *modeFS, fn func(*treeFile) error) error {
	usersFile, _ := passwd.ReadUserFile(fsys, "etc/passwd")
	groupsFile, _ := passwd.ReadGroupFile(fsys, "etc/group")
	users := map[int]string{}
	groups := map[int]string{}
	for _, u := range usersFile.Entries {
		users[int(u.UID)] = u.UserName
	}
	for _, g := range groupsFile.Entries {
		groups[int(g.GID)] = g.GroupName
	}
	root := true
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A child named "." or ".." would walk the tree again, forever
		// (modeFS refuses such entries; this keeps the walk finite).
		if d != nil && (d.Name() == ".." || d.Name() == "." && !root) {
			return fmt.Errorf("%s: the tree holds an entry named %q", p, d.Name())
		}
		if p == "." {
			root = false
			return nil
		}
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if info.Mode()&os.ModeSymlink != 0 {
			if link, err = fsys.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		if info.Mode()&os.ModeCharDevice != 0 {
			dev, err := fsys.Readnod(p)
			if err != nil {
				return err
			}
			h.Devmajor = int64(unix.Major(uint64(dev)))
			h.Devminor = int64(unix.Minor(uint64(dev)))
		}
		h.Name = p
		h.ModTime = info.ModTime()
		if n, ok := users[h.Uid]; ok {
			h.Uname = n
		}
		if n, ok := groups[h.Gid]; ok {
			h.Gname = n
		}
		if link != "" {
			h.Typeflag = tar.TypeSymlink
		}
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeDir {
			if xattrs, err := fsys.ListXattrs(p); err == nil && xattrs != nil {
				for k, v := range xattrs {
					h.PAXRecords["SCHILY.xattr."+k] = string(v)
				}
			}
		}
		return fn(&treeFile{path: p, info: info, header: h})
	})
}

// pkgGroup is the packages of one layer.
type pkgGroup struct {
	pkgs       []*apk.Package
	size       uint64
	tiebreaker string
}

func mergeGroups(gs ...*pkgGroup) *pkgGroup {
	m := &pkgGroup{}
	for _, g := range gs {
		m.pkgs = append(m.pkgs, g.pkgs...)
		m.size += g.size
		m.tiebreaker = max(m.tiebreaker, g.tiebreaker)
	}
	return m
}

// groupPackages partitions pkgs into at most budget groups as apko's origin
// layering does.
func groupPackages(pkgs []*apk.Package, budget int) ([]*pkgGroup, error) {
	byName := map[string]*pkgGroup{}
	byOrigin := map[string]*pkgGroup{}
	for _, p := range pkgs {
		g, ok := byOrigin[p.Origin]
		if !ok {
			g = &pkgGroup{}
			byOrigin[p.Origin] = g
		}
		g.pkgs = append(g.pkgs, p)
		byName[p.Name] = g
	}
	// A package that replaces another (at a version the other has) shares
	// its layer.
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var replaces []string
		for _, p := range byName[n].pkgs {
			if p.Name == n {
				replaces = p.Replaces
			}
		}
		for _, rep := range replaces {
			c := apk.ResolvePackageNameVersionPin(rep)
			other, ok := byName[c.Name]
			if !ok {
				continue
			}
			sat := false
			for _, p := range other.pkgs {
				if p.Name != c.Name {
					continue
				}
				v, err := apk.ParseVersion(p.Version)
				if err != nil {
					return nil, fmt.Errorf("parsing %s version %s: %w", p.Name, p.Version, err)
				}
				if sat, err = c.SatisfiedBy(v); err != nil {
					return nil, fmt.Errorf("checking %s satisfies %s: %w", p.Version, c.Name, err)
				}
				if sat {
					break
				}
			}
			g := byName[n]
			if !sat || g == other {
				continue
			}
			m := mergeGroups(g, other)
			for _, p := range m.pkgs {
				byName[p.Name] = m
				byOrigin[p.Origin] = m
			}
		}
	}
	var groups []*pkgGroup
	seen := map[*pkgGroup]bool{}
	for _, g := range byOrigin {
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		for _, p := range g.pkgs {
			g.size += p.InstalledSize
			g.tiebreaker = max(g.tiebreaker, p.Name)
		}
	}
	slices.SortFunc(groups, func(a, b *pkgGroup) int {
		return cmp.Or(cmp.Compare(b.size, a.size), cmp.Compare(a.tiebreaker, b.tiebreaker))
	})
	if len(groups) > budget {
		cut := max(budget-1, 0)
		groups = append(groups[:cut:cut], mergeGroups(groups[cut:]...))
	}
	for _, g := range groups {
		slices.SortFunc(g.pkgs, func(a, b *apk.Package) int { return cmp.Compare(a.Name, b.Name) })
	}
	return groups, nil
}

// planLayers describes the layers of the tree apko installed into fsys:
// the package groups' layers, then the top layer.
func planLayers(ctx context.Context, fsys *modeFS, installed []*apk.InstalledPackage, budget int) ([]*plannedLayer, error) {
	pkgs := make([]*apk.Package, 0, len(installed))
	for _, ip := range installed {
		pkgs = append(pkgs, &ip.Package)
	}
	groups, err := groupPackages(pkgs, budget)
	if err != nil {
		return nil, fmt.Errorf("grouping packages: %w", err)
	}
	idb := map[string][]byte{}
	for _, chunk := range fsys.idb {
		name, _, _ := strings.Cut(string(chunk), "\n")
		n, ok := strings.CutPrefix(name, "P:")
		if !ok {
			return nil, fmt.Errorf("installed database: an entry starts %q, not with P:", name)
		}
		if _, dup := idb[n]; dup {
			return nil, fmt.Errorf("installed database: two entries for %s", n)
		}
		idb[n] = chunk
	}
	layers := make([]*plannedLayer, len(groups)+1)
	byPkg := map[string]*plannedLayer{}
	for i, g := range groups {
		layers[i] = &plannedLayer{}
		for _, p := range g.pkgs {
			byPkg[p.Name] = layers[i]
			if _, ok := idb[p.Name]; !ok {
				return nil, fmt.Errorf("installed database: no entry appended for %s", p.Name)
			}
		}
	}
	top := &plannedLayer{}
	layers[len(groups)] = top
	var stack []*treeFile
	err = walkTree(ctx, fsys, func(f *treeFile) error {
		if f.header.Typeflag == tar.TypeDir {
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].path == path.Dir(f.path) {
					break
				}
				stack = stack[:i]
			}
			stack = append(stack, f)
		}
		w := top
		var own *apk.Package
		if o, ok := f.info.(interface{ Package() *apk.Package }); ok {
			if own = o.Package(); own != nil {
				if w, ok = byPkg[own.Name]; !ok {
					return fmt.Errorf("%s: owned by %s, which is not installed", f.path, own.Name)
				}
			}
		}
		for _, d := range w.align(stack) {
			if d.header == f.header {
				continue
			}
			d.header.ModTime = f.header.ModTime
			w.add(*d.header, "", nil, nil)
		}
		p := ""
		if f.header.Typeflag == tar.TypeReg && f.header.Size > 0 {
			p = f.path
		}
		w.add(*f.header, p, nil, own)
		if f.header.Name == installedDB {
			for i, g := range groups {
				l := layers[i]
				for _, d := range l.align(stack) {
					d.header.ModTime = f.header.ModTime
					l.add(*d.header, "", nil, nil)
				}
				var buf bytes.Buffer
				for _, p := range g.pkgs {
					buf.Write(idb[p.Name])
				}
				h := *f.header
				h.Size = int64(buf.Len())
				l.add(h, "", buf.Bytes(), nil)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		l.entries = linksAfterTargets(l.entries)
	}
	return layers, nil
}

// linksAfterTargets moves each hard link that comes before its target in
// a layer (the walk is in name order: opt/a, a link to opt/b, before
// opt/b) to just after the target, as a runtime unpacking the layer needs
// it; the other entries keep their order.
func linksAfterTargets(entries []layerEntry) []layerEntry {
	at := map[string]int{}
	for i, e := range entries {
		if e.hdr.Typeflag != tar.TypeLink {
			at[e.hdr.Name] = i
		}
	}
	after := map[int][]layerEntry{}
	moved := map[int]bool{}
	for i, e := range entries {
		if e.hdr.Typeflag != tar.TypeLink {
			continue
		}
		if t, ok := at[strings.TrimPrefix(path.Clean(e.hdr.Linkname), "/")]; ok && t > i {
			after[t] = append(after[t], e)
			moved[i] = true
		}
	}
	if len(moved) == 0 {
		return entries
	}
	out := make([]layerEntry, 0, len(entries))
	for i, e := range entries {
		if !moved[i] {
			out = append(out, e)
		}
		out = append(out, after[i]...)
	}
	return out
}

// layerFSOf flattens the planned layers into the filesystem the post-build
// checks read.
func layerFSOf(fsys *modeFS, layers []*plannedLayer) (inspect.FS, error) {
	fl := inspect.NewLayers()
	for li, l := range layers {
		if li > 0 {
			fl.NextLayer()
		}
		for i := range l.entries {
			e := &l.entries[i]
			if err := fl.Add(&e.hdr, func() ([]byte, error) { return e.content(fsys) }); err != nil {
				return nil, err
			}
		}
	}
	return fl.RootFS(), nil
}

func (e *layerEntry) content(fsys *modeFS) ([]byte, error) {
	if e.data != nil || e.path == "" {
		return e.data, nil
	}
	return fsys.ReadFile(e.path)
}

// describe returns the description of l that keys it in the layer cache.
// locked gives the checksum of each installed package (as checked against
// the lock).
func (l *plannedLayer) describe(fsys *modeFS, locked map[string]string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\x00%s\x00%s\x00%s\x00", layoutVersion, compressor(), runtime.Version(), types.OCILayer)
	for i := range l.entries {
		e := &l.entries[i]
		describeHeader(&b, &e.hdr)
		switch {
		case e.data != nil:
			s := sha256.Sum256(e.data)
			fmt.Fprintf(&b, "data sha256:%x\x00", s)
		case e.path != "":
			id, err := contentID(fsys, e, locked)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.path, err)
			}
			b.WriteString(id)
			b.WriteByte(0)
		default:
			b.WriteString("-\x00")
		}
	}
	return b.Bytes(), nil
}

func describeHeader(b *bytes.Buffer, h *tar.Header) {
	fmt.Fprintf(b, "%d %q %q %d %o %d %d %q %q %s %s %s %d %d %d\x00",
		h.Typeflag, h.Name, h.Linkname, h.Size, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname,
		h.ModTime.UTC().Format("2006-01-02T15:04:05.999999999Z"), h.AccessTime.UTC().Format("2006-01-02T15:04:05.999999999Z"),
		h.ChangeTime.UTC().Format("2006-01-02T15:04:05.999999999Z"), h.Devmajor, h.Devminor, h.Format)
	for _, m := range []map[string]string{h.PAXRecords, h.Xattrs} { //nolint:staticcheck // Xattrs is written too
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "%q=%q ", k, m[k])
		}
		b.WriteByte(0)
	}
}

// contentID names the content of the regular file of e: the package file
// it is, if apko installed it from a package, nothing rewrote it and it is
// at the path it was installed as; else the hash of its content.
func contentID(fsys *modeFS, e *layerEntry, locked map[string]string) (string, error) {
	f, err := fsys.Open(e.path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// A file apko has not rewritten reads from the package's data tar, and
	// such a file cannot seek; one written in memory can.
	if s, ok := f.(io.Seeker); ok && e.own != nil {
		if _, err := s.Seek(0, io.SeekCurrent); errors.Is(err, fs.ErrInvalid) {
			fsys.mu.Lock()
			rec, ok := fsys.installed[e.path]
			indirect := fsys.indirect[e.own]
			fsys.mu.Unlock()
			if sum, known := locked[e.own.Name+"="+e.own.Version]; ok && known && !indirect && rec.pkg == e.own && rec.size == e.hdr.Size {
				return fmt.Sprintf("package %s=%s %s %q %d", e.own.Name, e.own.Version, sum, rec.name, rec.size), nil
			}
		}
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", err
	}
	if n != e.hdr.Size {
		return "", fmt.Errorf("read %d bytes, the header says %d", n, e.hdr.Size)
	}
	return fmt.Sprintf("content sha256:%x", h.Sum(nil)), nil
}

// compressTar writes l as a tar, compressed as apko compresses a layer, to
// w and returns the tar's diff ID. The tar itself is never stored; tee,
// when not nil, gets it uncompressed.
func (l *plannedLayer) compressTar(fsys *modeFS, w, tee io.Writer) (_ v1.Hash, err error) {
	zw := pgzip.NewWriter(w)
	if err := zw.SetConcurrency(1<<20, pgzipThreads); err != nil {
		return v1.Hash{}, err
	}
	defer func() {
		if err != nil {
			zw.Close() // stops its compressing goroutines
		}
	}()
	diffID := sha256.New()
	sink := io.MultiWriter(diffID, zw)
	if tee != nil {
		sink = io.MultiWriter(diffID, zw, tee)
	}
	tw := tar.NewWriter(sink)
	buf := make([]byte, 1<<20)
	for i := range l.entries {
		e := &l.entries[i]
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return v1.Hash{}, fmt.Errorf("writing header %s: %w", e.hdr.Name, err)
		}
		switch {
		case e.data != nil:
			if _, err := tw.Write(e.data); err != nil {
				return v1.Hash{}, err
			}
		case e.path != "":
			f, err := fsys.Open(e.path)
			if err != nil {
				return v1.Hash{}, err
			}
			_, err = io.CopyBuffer(tw, f, buf)
			f.Close()
			if err != nil {
				return v1.Hash{}, fmt.Errorf("copying %s: %w", e.path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return v1.Hash{}, err
	}
	if err := zw.Close(); err != nil {
		return v1.Hash{}, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffID.Sum(nil))}, nil
}

// pgzipThreads is apko's layer compression concurrency; the compressed
// bytes do not depend on it.
var pgzipThreads = min(runtime.GOMAXPROCS(0), 8)

// assembleLayers returns the layers of the planned layers from cache,
// writing, hashing and compressing only those it does not hold, and how
// many it compressed. Each layer it writes also goes to a LayerTar of
// tars, when set.
func assembleLayers(ctx context.Context, fsys *modeFS, cache *layercache.Cache, planned []*plannedLayer, locked map[string]string, tars func() LayerTar) ([]v1.Layer, int, error) {
	out := make([]v1.Layer, len(planned))
	compressed := 0
	for i, pl := range planned {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		desc, err := pl.describe(fsys, locked)
		if err != nil {
			return nil, 0, fmt.Errorf("layer %d: %w", i, err)
		}
		l, _, err := cache.Input(layercache.InputKey(desc), func() (v1.Layer, error) {
			compressed++
			if tars == nil {
				return cache.Write(compressor(), types.OCILayer, func(w io.Writer) (v1.Hash, error) {
					return pl.compressTar(fsys, w, nil)
				})
			}
			lt := tars()
			l, err := cache.Write(compressor(), types.OCILayer, func(w io.Writer) (v1.Hash, error) {
				return pl.compressTar(fsys, w, lt)
			})
			var d v1.Hash
			if err == nil {
				d, err = l.DiffID()
			}
			if err != nil {
				lt.Abort()
				return nil, err
			}
			lt.Commit(d)
			return l, nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("layer %d: %w", i, err)
		}
		out[i] = l
	}
	return out, compressed, nil
}

// setRuntimeRepositories writes /etc/apk/repositories as apko does after
// installing: the configuration's repositories and runtime-only
// repositories, sorted.
func setRuntimeRepositories(ctx context.Context, bc *apkobuild.Context) error {
	ic := bc.ImageConfiguration()
	repos := slices.Concat(ic.Contents.Repositories, ic.Contents.RuntimeOnlyRepositories)
	slices.Sort(repos)
	repos = slices.Compact(repos)
	if err := bc.APK().SetRepositories(ctx, repos); err != nil {
		return fmt.Errorf("failed to set apk repositories: %w", err)
	}
	return nil
}
