package main

import (
	"encoding/json"
	"github.com/hic-build/hic/compiler/apkindex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/apkrepo"
	"github.com/hic-build/hic/compiler/resolve"
)

// TestPrivateRepositoryPinned: a repository the catalog declares itself
// (repositories/, a company's private APK repository) is used by the image
// that names it, and its key is pinned by content like a distro's: the
// build reads its mirror with the right key, and refuses a key file of the
// same name with other content, naming the file and both fingerprints.
func TestPrivateRepositoryPinned(t *testing.T) {
	const (
		repoURL = "https://apk.acme.example/os"
		keyURL  = "https://apk.acme.example/acme-signing.rsa.pub"
	)
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog")
	bldCopyDir(t, tamperCatalog, cat)
	key, err := apkrepo.GenerateKey("acme-signing")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	fp, err := apkindex.KeyFingerprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(cat, "repositories", "acme.cue"), "package hic\n\nrepositories: acme: {\n\turl: \""+repoURL+"\"\n\tkeys: \""+keyURL+"\": \""+fp+"\"\n}\n")
	appFile := filepath.Join(cat, "app-alpine", "app-alpine.cue")
	b, err := os.ReadFile(appFile)
	if err != nil {
		t.Fatal(err)
	}
	app := strings.Replace(string(b), "\tpackage:    \"app\"\n", "\tpackage:    \"app\"\n\textraRepositories: [\"acme\"]\n", 1)
	write(appFile, app)

	// The generated mirror for the Alpine repositories; the private
	// repository's mirror is a real repository signed with its own key,
	// which mirrors.json does not pin: the catalog's pin applies. The
	// image needs acme-tool, which only the private repository has.
	mirrorDir := filepath.Join(dir, "mirror")
	bldMirror(t, cat, mirrorDir, tamperAlpine)
	write(appFile, strings.Replace(app, "\textraRepositories: [\"acme\"]\n", "\textraRepositories: [\"acme\"]\n\tpackages: [\"acme-tool\"]\n", 1))
	acme := filepath.Join(dir, "acme")
	var pkgs []apkrepo.Package
	for _, a := range []string{"x86_64", "aarch64"} {
		pkgs = append(pkgs, apkrepo.Package{Name: "acme-tool", Version: "1.0.0-r0", Arch: a, License: "MIT",
			Files: []apkrepo.File{{Path: "usr/bin/acme-tool", Mode: 0o755, Data: []byte("#!/bin/true\n")}}})
	}
	if _, err := apkrepo.WriteRepository(t.Context(), acme, key, pkgs); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(mirrorDir, "mirrors.json")
	mb, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Mirrors []resolve.Mirror `json:"mirrors"`
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	found := false
	for i := range m.Mirrors {
		if m.Mirrors[i].URL == repoURL {
			m.Mirrors[i] = resolve.Mirror{URL: repoURL, Dir: acme}
			found = true
		}
	}
	if !found {
		t.Fatalf("hic mirror did not map %s: %s", repoURL, mb)
	}
	if mb, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	write(mp, string(mb))

	out := filepath.Join(dir, "out")
	bldBuild(t, 0, cat, tamperAlpine, "--today", tamperToday, "--mirrors", mirrorDir, "--out", out, "--unsigned")
	lock, err := os.ReadFile(filepath.Join(out, "compiled", "app-alpine_1-alpine-3.23-runtime.lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lock), `"name": "acme-tool"`) || !strings.Contains(string(lock), `"repository": "`+repoURL+`"`) {
		t.Errorf("the lock has no acme-tool:\n%s", lock)
	}

	// The private repository's key file swapped for another key's.
	other, err := apkrepo.GenerateKey("acme-signing")
	if err != nil {
		t.Fatal(err)
	}
	otherPub, err := other.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	otherFP, err := apkindex.KeyFingerprint(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(acme, "keys", "acme-signing.rsa.pub")
	write(keyFile, string(otherPub))
	_, stderr := bldBuild(t, 1, cat, tamperAlpine, "--today", tamperToday, "--mirrors", mirrorDir, "--out", filepath.Join(dir, "out2"), "--unsigned")
	for _, w := range []string{keyFile, "has fingerprint " + otherFP, "the catalog's keyring pins " + fp} {
		if !strings.Contains(stderr, w) {
			t.Errorf("build with a swapped key does not say %q:\n%s", w, stderr)
		}
	}
}
