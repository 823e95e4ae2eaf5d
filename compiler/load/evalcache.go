package load

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"cuelang.org/go/cue/build"

	"github.com/hic-build/hic/compiler/finding"
	"github.com/hic-build/hic/compiler/spec"
)

// evalCache keeps the result of evaluating one image folder (its decoded
// specs and the evaluation's findings) on disk, keyed by everything the
// evaluation reads: the bytes of every file of the instance and of every
// package it imports, cue.mod/module.cue, the folder, and the program
// doing the evaluation (the hic executable, whose embedded schema and
// loader code decide the result). A catalog with one changed file then
// evaluates only the folders whose instance reads that file.
//
// Folders whose files use @embed are never cached: the embedded files are
// inputs the key would not see.
type evalCache struct {
	dir string
	exe string // identity of the running program
}

// cacheFormat changes whenever the cached value's shape or meaning does.
const cacheFormat = "hic eval cache v1"

// programIdentity names the running executable by path, size and
// modification time: a rebuilt hic (other schema, other loader) gets other
// keys. Empty when it cannot be told, and then nothing is cached.
var programIdentity = sync.OnceValue(func() string {
	p, err := os.Executable()
	if err != nil {
		return ""
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s\x00%d\x00%d", p, fi.Size(), fi.ModTime().UnixNano())
})

func newEvalCache(dir string) *evalCache {
	if dir == "" || programIdentity() == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil
	}
	trimEvalCache(dir, time.Now())
	return &evalCache{dir: dir, exe: programIdentity()}
}

// evalMaxAge bounds the cache: entries not used for this long are removed,
// at most once a day (a marker file records the last trim).
const evalMaxAge = 14 * 24 * time.Hour

func trimEvalCache(dir string, now time.Time) {
	marker := filepath.Join(dir, ".trimmed")
	if fi, err := os.Stat(marker); err == nil && now.Sub(fi.ModTime()) < 24*time.Hour {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && !fi.IsDir() && now.Sub(fi.ModTime()) > evalMaxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.WriteFile(marker, nil, 0o644)
	_ = os.Chtimes(marker, now, now)
}

type cachedEval struct {
	Specs []*spec.Spec `json:"specs"`
	// Files are the specs' File fields, which spec.Spec does not encode.
	Files    []string          `json:"files"`
	Findings []finding.Finding `json:"findings"`
}

// key is the cache key of evaluating inst for folder dir, or "" if inst
// cannot be cached. It hashes every file the evaluation reads: the
// instance's own (the folder's and its parent folders'), those of every
// package it imports, transitively, and cue.mod/module.cue, whose
// language version and module path decide how the files are read.
func (c *evalCache) key(sb *sandbox, root string, inst *build.Instance, dir string) string {
	if c == nil {
		return ""
	}
	type file struct {
		name string
		data []byte
	}
	var files []file
	add := func(pkg string, f *build.File) bool {
		rel, err := filepath.Rel(root, f.Filename)
		if err != nil {
			return false
		}
		b, err := sb.ReadFile(filepath.ToSlash(rel))
		if err != nil {
			src, ok := f.Source.([]byte) // the schema's files are not in the sandbox
			if !ok {
				return false
			}
			b = src
		}
		if bytes.Contains(b, []byte("@embed")) {
			return false
		}
		files = append(files, file{pkg + "\x00" + filepath.ToSlash(rel), b})
		return true
	}
	for _, f := range inst.BuildFiles {
		if !add("", f) {
			return ""
		}
	}
	// The imported packages, each once: an edit to one of their files
	// changes the value of every image importing it. (Load evaluates no
	// folder that imports one, rule catalog-sandbox; the key does not
	// count on it.)
	seen := map[*build.Instance]bool{}
	var walk func(*build.Instance) bool
	walk = func(in *build.Instance) bool {
		for _, imp := range in.Imports {
			if seen[imp] {
				continue
			}
			seen[imp] = true
			if imp.Err != nil {
				return false
			}
			for _, f := range imp.BuildFiles {
				if !add(imp.ImportPath, f) {
					return false
				}
			}
			if !walk(imp) {
				return false
			}
		}
		return true
	}
	if !walk(inst) {
		return ""
	}
	mod, err := sb.ReadFile("cue.mod/module.cue")
	if err != nil {
		return ""
	}
	files = append(files, file{"\x00cue.mod/module.cue", mod})
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00", cacheFormat, c.exe, dir, len(files))
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.data))
		h.Write(f.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *evalCache) get(key string) (*cachedEval, bool) {
	if c == nil || key == "" {
		return nil, false
	}
	p := filepath.Join(c.dir, key)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // recency, for trimming
	var v cachedEval
	if err := json.Unmarshal(b, &v); err != nil || len(v.Files) != len(v.Specs) {
		return nil, false
	}
	for i, s := range v.Specs {
		if s == nil {
			return nil, false
		}
		s.File = v.Files[i]
	}
	return &v, true
}

// put stores v; failures only cost the next load its speed.
func (c *evalCache) put(key string, specs []*spec.Spec, findings []finding.Finding) {
	if c == nil || key == "" {
		return
	}
	files := make([]string, len(specs))
	for i, s := range specs {
		files[i] = s.File
	}
	b, err := json.Marshal(cachedEval{Specs: specs, Files: files, Findings: findings})
	if err != nil {
		return
	}
	f, err := os.CreateTemp(c.dir, ".tmp-")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr != nil || cerr != nil {
		os.Remove(f.Name())
		return
	}
	if err := os.Rename(f.Name(), filepath.Join(c.dir, key)); err != nil {
		os.Remove(f.Name())
	}
}
