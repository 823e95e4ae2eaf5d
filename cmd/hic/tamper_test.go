package main

// The tamper suite (issue 10): one table of named attacks on what hic built,
// read or trusts. A small signed catalog (testdata/tamper/catalog) is built
// once from a generated mirror; every case gets its own copy of the catalog,
// the mirror and the output, attacks it, and runs hic build or hic verify on
// it. A case is detected when hic exits non-zero (or as the case says) with a
// message naming every Want string (the check and the object), and no image
// the attack did not damage lost a tag or a blob. The suite ends with one
// summary line: "tamper: N attacks, N detected".
//
// Adding a case: in the file of its area (tamper_layout_test.go, ...; a new
// area gets a new file with an init calling tamperRegister), add a
// tamperCase with a Name saying the attack, an Attack that changes the
// copies in the tamperEnv, and a Detect that runs hic on them (tamperEnv.Verify
// or tamperEnv.Build, usually); Want lists the strings the message must hold,
// Tampered the spec refs whose images the attack itself damages.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/sign"
	"github.com/hic-build/hic/compiler/store"
)

const (
	tamperCatalog = "testdata/tamper/catalog"
	tamperToday   = "2026-11-27"
	// The specs of tamperCatalog. tamperAlpine publishes into the app
	// repository from the app-alpine folder.
	tamperWolfi  = "app:1-wolfi-runtime"
	tamperAlpine = "app-alpine:1-alpine-3.23-runtime"
)

// tamperCase is one named attack.
type tamperCase struct {
	// Name says the attack ("layout: one byte of a layer flipped").
	Name string
	// Attack changes the case's copies (env.Catalog, env.Mirror, env.Out).
	Attack func(t *testing.T, env *tamperEnv)
	// Detect runs hic on the attacked copies and returns what it did.
	Detect func(t *testing.T, env *tamperEnv) cliRun
	// Want are the strings hic's output must contain: the check (or rule)
	// and the object (blob, field, file, package).
	Want []string
	// Exit is the exit status wanted; zero means any non-zero status. A
	// case that wants exit 0 (say, a rebuild that repairs the layout) sets
	// ExitZero instead.
	Exit     int
	ExitZero bool
	// Check, if set, makes further demands on the outcome (report status,
	// rebuilt image); it reports problems with t.Errorf.
	Check func(t *testing.T, env *tamperEnv, r cliRun)
	// Skopeo, if set, is an image ref ("app:latest") that Debian's skopeo,
	// a reader hic did not write, must also refuse to copy out of the
	// attacked layout (skopeo copy --all oci:OUT/oci:REF).
	Skopeo string
	// Tampered are the spec refs whose images the attack itself damages:
	// every other image of the good build must keep its tags and blobs.
	// A spec the attack only tries to replace (a failing rebuild) is not
	// listed: its good image must stay tagged.
	Tampered []string
}

type tamperArea struct {
	name  string
	cases func() []tamperCase
}

var (
	tamperMu    sync.Mutex
	tamperAreas []tamperArea
)

// tamperRegister adds an area's cases to the suite; call it from an init
// function in the area's file.
func tamperRegister(area string, cases func() []tamperCase) {
	tamperMu.Lock()
	defer tamperMu.Unlock()
	tamperAreas = append(tamperAreas, tamperArea{area, cases})
}

// tamperBase is the good build every case starts from.
type tamperBase struct {
	parent  *testing.T        // TestTamper: owns the processes the cases share
	dir     string            // holds catalog, mirror, out
	key     string            // private key
	pub     string            // public key
	tags    map[string]string // repository:tag -> index digest
	specOf  map[string]string // repository:tag -> spec ref
	digests map[string]string // spec ref -> index digest
}

// tamperEnv is one case's world: copies of the good build's catalog, mirror
// and output, and the key pair.
type tamperEnv struct {
	base    *tamperBase
	Dir     string // the case's own directory
	Catalog string
	Mirror  string
	Out     string
	Key     string
	Pub     string

	registry string // REGISTRY/PREFIX the case published to (tamperRegistry)
	note     string // what an attack wants its Detect to see named
}

// OCI is the case's layout.
func (e *tamperEnv) OCI() string { return filepath.Join(e.Out, "oci") }

// Digest is the good build's index digest of a spec.
func (e *tamperEnv) Digest(specRef string) string { return e.base.digests[specRef] }

// Verify runs hic verify REF on the case's layout with the public key.
func (e *tamperEnv) Verify(t *testing.T, ref string, extra ...string) cliRun {
	t.Helper()
	return hicCLI(t, nil, append([]string{"-C", e.Catalog, "verify", ref, "--layout", e.OCI(), "--key", e.Pub}, extra...)...)
}

// Build runs a signed hic build of args (refs or --all) from the case's
// mirror into its output.
func (e *tamperEnv) Build(t *testing.T, args ...string) cliRun {
	t.Helper()
	return hicCLI(t, nil, append([]string{"-C", e.Catalog, "build", "--today", tamperToday, "--jobs", "2",
		"--mirrors", e.Mirror, "--out", e.Out, "--key", e.Key}, args...)...)
}

// TestTamper runs every registered attack and prints the summary line.
func TestTamper(t *testing.T) {
	base := tamperSetup(t)
	tamperMu.Lock()
	areas := slices.Clone(tamperAreas)
	tamperMu.Unlock()
	sort.SliceStable(areas, func(i, j int) bool { return areas[i].name < areas[j].name })

	attacks, detected := 0, 0
	var missed []string
	names := map[string]bool{}
	for _, a := range areas {
		for _, c := range a.cases() {
			if names[c.Name] {
				t.Errorf("tamper: two cases named %q", c.Name)
			}
			names[c.Name] = true
			attacks++
			ok := t.Run(c.Name, func(t *testing.T) { tamperRunCase(t, base, c) })
			if ok {
				detected++
			} else {
				missed = append(missed, c.Name)
			}
		}
	}
	summary := fmt.Sprintf("tamper: %d attacks, %d detected", attacks, detected)
	if len(missed) > 0 {
		summary += "; missed: " + strings.Join(missed, "; ")
	}
	fmt.Println(summary)
	t.Log(summary)
}

// tamperSetup generates the mirror and the key pair and makes the good
// signed build every case copies.
func tamperSetup(t *testing.T) *tamperBase {
	t.Helper()
	dir := t.TempDir()
	b := &tamperBase{parent: t, dir: dir}
	cat := filepath.Join(dir, "catalog")
	bldCopyDir(t, tamperCatalog, cat)
	env := &tamperEnv{base: b, Dir: dir, Catalog: cat, Mirror: filepath.Join(dir, "mirror"), Out: filepath.Join(dir, "out"),
		Key: filepath.Join(dir, "keys", sign.PrivateKeyFile), Pub: filepath.Join(dir, "keys", sign.PublicKeyFile)}
	b.key, b.pub = env.Key, env.Pub
	// keygen reads no catalog, so it takes no -C.
	hicCLI(t, nil, "keygen", "--out", filepath.Join(dir, "keys")).must(t, 0)
	if r := hicCLI(t, nil, "-C", env.Catalog, "mirror", "--out", env.Mirror); r.Code != 0 {
		t.Fatalf("tamper setup: %s", r)
	}
	if r := env.Build(t, "--all"); r.Code != 0 {
		t.Fatalf("tamper setup: %s", r)
	}
	b.tags, b.specOf = tamperTags(t, env.OCI())
	b.digests = map[string]string{}
	for tag, d := range b.tags {
		b.digests[b.specOf[tag]] = d
	}
	for _, s := range []string{tamperWolfi, tamperAlpine} {
		if b.digests[s] == "" {
			t.Fatalf("tamper setup: the good build has no tagged image of %s", s)
		}
		if r := env.Verify(t, s); r.Code != 0 {
			t.Fatalf("tamper setup: the good image does not verify: %s", r)
		}
	}
	// The outside reader accepts the good layout.
	if out, err := tamperSkopeo(t, env.OCI(), "app:latest"); err != nil {
		t.Fatalf("tamper setup: skopeo refuses the good layout: %v\n%s", err, out)
	}
	return b
}

// tamperTags reads the tagged image entries of a layout's index.json.
func tamperTags(t *testing.T, oci string) (tags, specOf map[string]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(oci, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatalf("%s/index.json: %v", oci, err)
	}
	tags, specOf = map[string]string{}, map[string]string{}
	for _, d := range im.Manifests {
		if name := d.Annotations[store.AnnotationRefName]; name != "" && d.MediaType.IsIndex() {
			tags[name] = d.Digest.String()
			specOf[name] = d.Annotations[store.AnnotationSpecRef]
		}
	}
	return tags, specOf
}

func tamperRunCase(t *testing.T, base *tamperBase, c tamperCase) {
	dir := t.TempDir()
	env := &tamperEnv{base: base, Dir: dir, Catalog: filepath.Join(dir, "catalog"), Mirror: filepath.Join(dir, "mirror"),
		Out: filepath.Join(dir, "out"), Key: base.key, Pub: base.pub}
	bldCopyDir(t, filepath.Join(base.dir, "catalog"), env.Catalog)
	bldCopyDir(t, filepath.Join(base.dir, "mirror"), env.Mirror)
	bldCopyDir(t, filepath.Join(base.dir, "out"), env.Out)

	c.Attack(t, env)
	if t.Failed() {
		return
	}
	r := c.Detect(t, env)
	t.Logf("%s", r)
	switch {
	case c.ExitZero && r.Code != 0:
		t.Errorf("exit %d, want 0", r.Code)
	case c.Exit != 0 && r.Code != c.Exit:
		t.Errorf("exit %d, want %d", r.Code, c.Exit)
	case !c.ExitZero && r.Code == 0:
		t.Errorf("the attack was not detected: hic exited 0")
	}
	for _, w := range c.Want {
		if !strings.Contains(r.output(), w) {
			t.Errorf("hic's output does not name %q", w)
		}
	}
	if strings.Contains(r.output(), "panic") || strings.Contains(r.output(), "goroutine ") {
		t.Errorf("hic's output shows a panic")
	}
	if c.Check != nil {
		c.Check(t, env, r)
	}
	if c.Skopeo != "" {
		out, err := tamperSkopeo(t, env.OCI(), c.Skopeo)
		t.Logf("skopeo copy %s: %v\n%s", c.Skopeo, err, out)
		if err == nil {
			t.Errorf("skopeo copied %s from the attacked layout: the outside reference does not see the attack", c.Skopeo)
		}
	}
	tamperGoodImagesKept(t, base, env.OCI(), c.Tampered)
}

// tamperGoodImagesKept fails unless every tag of the good build whose spec
// the attack did not damage still names the same image in oci, with all its
// blobs present.
func tamperGoodImagesKept(t *testing.T, base *tamperBase, oci string, tampered []string) {
	t.Helper()
	tags, _ := tamperTags(t, oci)
	for tag, d := range base.tags {
		spec := base.specOf[tag]
		if slices.Contains(tampered, spec) {
			continue
		}
		if tags[tag] != d {
			t.Errorf("good image of %s lost its tag %s (now %q, was %s)", spec, tag, tags[tag], d)
			continue
		}
		if missing := tamperMissingBlobs(oci, d); len(missing) > 0 {
			t.Errorf("good image %s of %s lost blobs: %s", d, spec, strings.Join(missing, ", "))
		}
	}
}

// tamperMissingBlobs lists the blobs of the image index digest that are not
// in the layout (index, manifests, configs, layers).
func tamperMissingBlobs(oci, digest string) []string {
	blob := func(d string) ([]byte, error) {
		alg, hex, _ := strings.Cut(d, ":")
		return os.ReadFile(filepath.Join(oci, "blobs", alg, hex))
	}
	var missing []string
	ib, err := blob(digest)
	if err != nil {
		return []string{digest}
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(ib, &idx); err != nil {
		return []string{digest + " (unreadable)"}
	}
	for _, m := range idx.Manifests {
		mb, err := blob(m.Digest.String())
		if err != nil {
			missing = append(missing, m.Digest.String())
			continue
		}
		var man v1.Manifest
		if err := json.Unmarshal(mb, &man); err != nil {
			missing = append(missing, m.Digest.String()+" (unreadable)")
			continue
		}
		for _, d := range append([]v1.Descriptor{man.Config}, man.Layers...) {
			alg, hex, _ := strings.Cut(d.Digest.String(), ":")
			if _, err := os.Stat(filepath.Join(oci, "blobs", alg, hex)); err != nil {
				missing = append(missing, d.Digest.String())
			}
		}
	}
	return missing
}

// tamperSkopeo copies every platform of ref out of the layout oci with
// Debian's skopeo (installed by .ci/tools.sh), which checks each blob's digest.
func tamperSkopeo(t *testing.T, oci, ref string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatalf("skopeo is not installed: run .ci/tools.sh (%v)", err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "copy", "--all", "oci:"+oci+":"+ref, "dir:"+filepath.Join(t.TempDir(), "copy"))
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}
