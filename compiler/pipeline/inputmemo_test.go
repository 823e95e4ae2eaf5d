package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/resolve"
)

func TestInputMemo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "input-digests")
	key := []byte("0123456789abcdef0123456789abcdef")
	img := compile.Image{Ref: "app:1-wolfi-runtime", Repository: "app", Tags: []string{"1"}}
	lock := &resolve.Lock{Ref: img.Ref, Archs: map[string][]resolve.Package{
		"x86_64": {{Name: "app", Version: "1.0.0-r0", Arch: "x86_64", Checksum: "Q1abc="}},
	}}
	v := Versions{Hic: "0.1.0", Apko: "v0.30.34", Key: "k1"}
	want := func(img compile.Image, lock Lock, v Versions, adv string) string {
		t.Helper()
		d, err := InputDigest(img, lock, v, adv)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	digest := func(m *InputMemo, img compile.Image, lock Lock, v Versions, adv string) string {
		t.Helper()
		d, err := m.Digest(img, lock, v, adv)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	first := OpenInputMemo(path, key)
	if got, w := digest(first, img, lock, v, ""), want(img, lock, v, ""); got != w {
		t.Fatalf("cold: %s, want %s", got, w)
	}
	if err := first.Save(); err != nil {
		t.Fatal(err)
	}
	second := OpenInputMemo(path, key)
	if len(second.old) != 1 {
		t.Fatalf("the saved memo holds %d digests, want 1", len(second.old))
	}
	// Every input InputDigest reads changes the digest, warm as cold.
	other := img
	other.Tags = []string{"1", "latest"}
	bumped := &resolve.Lock{Ref: img.Ref, Archs: map[string][]resolve.Package{
		"x86_64": {{Name: "app", Version: "1.0.1-r0", Arch: "x86_64", Checksum: "Q1abd="}},
	}}
	cases := []struct {
		name string
		img  compile.Image
		lock Lock
		v    Versions
		adv  string
	}{
		{"unchanged", img, lock, v, ""},
		{"spec", other, lock, v, ""},
		{"lock", img, bumped, v, ""},
		{"hic version", img, lock, Versions{Hic: "0.2.0", Apko: v.Apko, Key: v.Key}, ""},
		{"key", img, lock, Versions{Hic: v.Hic, Apko: v.Apko, Key: "k2"}, ""},
		{"advisories", img, lock, v, "sha256:" + strings.Repeat("a", 64)},
	}
	for _, c := range cases {
		if got, w := digest(second, c.img, c.lock, c.v, c.adv), want(c.img, c.lock, c.v, c.adv); got != w {
			t.Errorf("%s: warm %s, want %s", c.name, got, w)
		}
	}
	if err := second.Save(); err != nil {
		t.Fatal(err)
	}

	// A memo written under another key, or changed, is not read; a nil
	// memo computes.
	for name, m := range map[string]*InputMemo{
		"other key": OpenInputMemo(path, []byte("another key of thirty-two bytes!")),
		"nil":       nil,
	} {
		if m != nil && len(m.old) != 0 {
			t.Errorf("%s: read %d digests", name, len(m.old))
		}
		if got, w := digest(m, img, lock, v, ""), want(img, lock, v, ""); got != w {
			t.Errorf("%s: %s, want %s", name, got, w)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Swap the two digests of the first two entries: each key then names
	// another spec's digest.
	body := b[len(inputMemoFormat)+32:]
	d0 := append([]byte(nil), body[32:64]...)
	copy(body[32:64], body[96:128])
	copy(body[96:128], d0)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if m := OpenInputMemo(path, key); len(m.old) != 0 {
		t.Errorf("a memo with swapped digests was read (%d digests)", len(m.old))
	}
}
