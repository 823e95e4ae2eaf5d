package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSigningKeyInline: --key and HIC_SIGNING_KEY take a path or the PEM
// itself; whatever goes wrong, no message, log line, report or compiled
// output repeats the key.
func TestSigningKeyInline(t *testing.T) {
	keyPath := bldKey(t)
	pemBytes, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	pem := string(pemBytes)
	body := strings.Split(strings.TrimSpace(pem), "\n")
	body = body[1 : len(body)-1] // the base64 lines: the key material
	pub, err := os.ReadFile(filepath.Join(filepath.Dir(keyPath), "hic.pub"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mirror := filepath.Join(tmp, "mirror")
	bldMirror(t, tamperCatalog, mirror)

	hic := func(env map[string]string, args ...string) (int, string) {
		t.Helper()
		r := hicCLI(t, env, append([]string{"-C", tamperCatalog}, args...)...)
		return r.Code, r.output()
	}
	leaks := func(t *testing.T, what, dir string) {
		t.Helper()
		if dir == "" {
			for _, line := range body {
				if strings.Contains(what, line) {
					t.Errorf("output holds key material %q:\n%s", line, what)
				}
			}
			return
		}
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || !fi.Mode().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, line := range body {
				if bytes.Contains(b, []byte(line)) {
					t.Errorf("%s holds key material", p)
					break
				}
			}
			return nil
		})
	}
	build := func(env map[string]string, out string, extra ...string) (int, string) {
		return hic(env, append([]string{"build", "--today", tamperToday, "--jobs", "2", "--mirrors", mirror, "--out", out, "--all"}, extra...)...)
	}

	broken := strings.Replace(pem, body[1], body[1][:10]+"!!"+body[1][12:], 1) // not base64
	truncated := pem[:len(pem)/2]
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want int
		msg  string
	}{
		{"broken PEM in HIC_SIGNING_KEY", map[string]string{"HIC_SIGNING_KEY": broken}, nil, 2, "inline PEM"},
		{"truncated PEM in HIC_SIGNING_KEY", map[string]string{"HIC_SIGNING_KEY": truncated}, nil, 2, "inline PEM"},
		{"broken PEM in --key", nil, []string{"--key", broken}, 2, "inline PEM"},
		{"public key as the signing key", map[string]string{"HIC_SIGNING_KEY": string(pub)}, nil, 2, `want "PRIVATE KEY"`},
		{"missing key file", nil, []string{"--key", filepath.Join(tmp, "nope.key")}, 2, "nope.key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, msg := build(tt.env, out, tt.args...)
			if code != tt.want || !strings.Contains(msg, tt.msg) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tt.want, tt.msg, msg)
			}
			leaks(t, msg, "")
			leaks(t, "", out)
		})
	}

	// The PEM itself signs, as the key file does, and verify takes the
	// public key inline too.
	out := filepath.Join(tmp, "out")
	code, msg := build(map[string]string{"HIC_SIGNING_KEY": pem}, out)
	if code != 0 {
		t.Fatalf("build with the PEM in HIC_SIGNING_KEY: exit %d\n%s", code, msg)
	}
	leaks(t, msg, "")
	leaks(t, "", out)
	code, msg = hic(map[string]string{"HIC_PUBLIC_KEY": string(pub)}, "verify", tamperWolfi, "--layout", filepath.Join(out, "oci"))
	if code != 0 {
		t.Errorf("verify with the public key in HIC_PUBLIC_KEY: exit %d\n%s", code, msg)
	}
}
