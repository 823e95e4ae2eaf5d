package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/report"
	"github.com/hic-build/hic/compiler/resolve"
)

// lockedBuilder resolves every spec to a real lock (resolve.Lock) holding
// package app at version[ref], and builds it with the fake builder.
type lockedBuilder struct {
	*fakeBuilder
	version map[string]string
}

func (b lockedBuilder) Resolve(ctx context.Context, img compile.Image) (Lock, error) {
	pkg := resolve.Package{
		Name: "app", Version: b.version[img.Ref], Arch: "x86_64",
		Repository: "https://packages.wolfi.dev/os", Checksum: "Q1bm90LWEtcmVhbC1jaGVja3N1bQ==",
		Size: 1, BuildTime: time.Unix(1e9, 0).UTC(),
	}
	return &resolve.Lock{Ref: img.Ref, Archs: map[string][]resolve.Package{"x86_64": {pkg}}}, nil
}

func (b lockedBuilder) Build(ctx context.Context, img compile.Image, _ Lock) (*Built, error) {
	lock, _ := b.fakeBuilder.Resolve(ctx, img)
	return b.fakeBuilder.Build(ctx, img, lock)
}

// A previous lock that cannot be parsed fails its spec closed: the
// no-rollback check cannot run, so the rolled-back lock is not built, the
// damaged file stays as it was, and the message says how to recover. A
// sibling whose lock is intact builds, and one whose intact lock shows the
// rollback is refused as before.
func TestDamagedPreviousLockFailsClosed(t *testing.T) {
	ctx := context.Background()
	out := t.TempDir()
	compiled := filepath.Join(out, "compiled")
	imgs := []compile.Image{spec("trunc", "1"), spec("garbage", "1"), spec("intact", "1"), spec("rolled", "1")}
	b := lockedBuilder{&fakeBuilder{}, map[string]string{}}
	opts := Options{Store: openStore(t, filepath.Join(out, "oci")), Builder: LockWriter{Builder: b, Dir: compiled}, Jobs: 1, HicVersion: "v0.1.0"}
	for _, img := range imgs {
		b.version[img.Ref] = "2.0.0-r0"
	}
	if r, err := Run(ctx, imgs, opts); err != nil || r.Failed() {
		t.Fatalf("first build: %v, %+v", err, statuses(r))
	}
	lockPath := func(ref string) string {
		return filepath.Join(compiled, strings.TrimSuffix(compile.FileName(ref), ".json")+".lock.json")
	}
	damage := map[string]func([]byte) []byte{
		"trunc:1-wolfi-runtime":   func(b []byte) []byte { return b[:50] },
		"garbage:1-wolfi-runtime": func([]byte) []byte { return []byte("{bad") },
	}
	damaged := map[string][]byte{}
	for ref, f := range damage {
		old, err := os.ReadFile(lockPath(ref))
		if err != nil {
			t.Fatal(err)
		}
		damaged[ref] = f(old)
		if err := os.WriteFile(lockPath(ref), damaged[ref], 0o644); err != nil {
			t.Fatal(err)
		}
		b.version[ref] = "1.0.0-r0" // a rollback, which the damaged lock no longer shows
	}
	b.version["intact:1-wolfi-runtime"] = "3.0.0-r0"
	b.version["rolled:1-wolfi-runtime"] = "1.0.0-r0"

	r, err := Run(ctx, imgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"trunc:1-wolfi-runtime":   {"unexpected end of JSON input at byte 50"},
		"garbage:1-wolfi-runtime": {"invalid character 'b' looking for beginning of object key string at byte 2"},
	}
	for _, s := range r.Specs {
		if s.Ref == "intact:1-wolfi-runtime" {
			if s.Status != report.StatusBuilt {
				t.Errorf("%s: %s (%s), want built: its lock is intact", s.Ref, s.Status, s.Error)
			}
			continue
		}
		if s.Ref == "rolled:1-wolfi-runtime" {
			if !strings.Contains(s.Error, "no-rollback: package app moves back from 2.0.0-r0 to 1.0.0-r0") {
				t.Errorf("%s: %s (%s), want the rollback refused", s.Ref, s.Status, s.Error)
			}
			continue
		}
		if s.Status != report.StatusFailed {
			t.Errorf("%s: %s, want failed: its previous lock is damaged", s.Ref, s.Status)
		}
		for _, w := range append(want[s.Ref], s.Ref, "no-rollback", lockPath(s.Ref)+" is damaged",
			"the spec is not built and the file is left as it is", "restore it from a copy of the last build's output (a backup, a CI artifact)",
			"or delete it to accept the versions resolved now (the no-rollback check is then skipped for this spec once)") {
			if !strings.Contains(s.Error, w) {
				t.Errorf("%s: error %q does not say %q", s.Ref, s.Error, w)
			}
		}
		if got, _ := os.ReadFile(lockPath(s.Ref)); !bytes.Equal(got, damaged[s.Ref]) {
			t.Errorf("%s: the damaged lock was replaced by %q", s.Ref, got)
		}
	}
	if got, _ := os.ReadFile(lockPath("intact:1-wolfi-runtime")); !bytes.Contains(got, []byte("3.0.0-r0")) {
		t.Errorf("intact spec's lock not updated:\n%s", got)
	}
}

// A previous lock that cannot be read (not one that is missing: a spec's
// first build) fails its spec the same way; a stream that waives
// no-rollback needs no previous lock and replaces it.
func TestUnreadablePreviousLock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img := spec("app", "1")
	b := lockedBuilder{&fakeBuilder{}, map[string]string{img.Ref: "1.0.0-r0"}}
	lw := LockWriter{Builder: b, Dir: dir}
	path := filepath.Join(dir, strings.TrimSuffix(compile.FileName(img.Ref), ".json")+".lock.json")
	if err := os.Mkdir(path, 0o755); err != nil { // reading a directory fails, as EACCES would
		t.Fatal(err)
	}
	_, err := lw.Resolve(ctx, img)
	if err == nil || !strings.Contains(err.Error(), path+" cannot be read: ") || !strings.Contains(err.Error(), "restore it from a copy of the last build's output (a backup, a CI artifact)") {
		t.Fatalf("unreadable previous lock: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{bad"), 0o644); err != nil {
		t.Fatal(err)
	}
	img.Policy.Exceptions = []compile.Exception{{Rule: resolve.RuleNoRollback, Reason: "back to 1.0 on purpose"}}
	if _, err := lw.Resolve(ctx, img); err != nil {
		t.Fatalf("no-rollback waived: %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Contains(got, []byte("1.0.0-r0")) {
		t.Errorf("no-rollback waived: lock not written:\n%s", got)
	}
}
