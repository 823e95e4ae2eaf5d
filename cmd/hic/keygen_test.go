package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/sign"
)

func runKeygen(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runKeygen(t, "keygen", "--out", dir)
	if code != exitOK {
		t.Fatalf("keygen: exit %d, stderr %q", code, stderr)
	}
	priv, pub := filepath.Join(dir, "hic.key"), filepath.Join(dir, "hic.pub")
	k, err := sign.LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := sign.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !pk.Equal(&k.PublicKey) {
		t.Error("hic.pub is not the public key of hic.key")
	}
	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Errorf("hic.key mode = %o, want 600", fi.Mode().Perm())
	}
	id, _ := sign.KeyID(pk)
	want := "private key: " + priv + "\npublic key:  " + pub + "\nkey id:      " + id[:16] + "\nfingerprint: sha256:" + id + "\n"
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}

	// A second run refuses and keeps the key.
	code, _, stderr = runKeygen(t, "keygen", "--out", dir)
	if code != exitUsage || !strings.Contains(stderr, "--force") {
		t.Errorf("keygen over an existing key: exit %d, stderr %q; want exit %d naming --force", code, stderr, exitUsage)
	}
	if k2, _ := sign.LoadPrivateKey(priv); !k2.Equal(k) {
		t.Error("refused keygen replaced the key")
	}

	// --force replaces it.
	code, _, stderr = runKeygen(t, "keygen", "--out", dir, "--force")
	if code != exitOK {
		t.Fatalf("keygen --force: exit %d, stderr %q", code, stderr)
	}
	if k2, _ := sign.LoadPrivateKey(priv); k2.Equal(k) {
		t.Error("keygen --force kept the old key")
	}
}

func TestKeygenBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"below a file", []string{"keygen", "--out", filepath.Join(file, "keys")}, "not a directory"},
		{"out is a file", []string{"keygen", "--out", file}, "not a directory"},
		{"positional arg", []string{"keygen", "extra"}, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runKeygen(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d containing %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

func TestKeygenMakesMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "keys")
	if code, _, stderr := runKeygen(t, "keygen", "--out", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, want 0700", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "hic.key")); err != nil {
		t.Error(err)
	}
}
