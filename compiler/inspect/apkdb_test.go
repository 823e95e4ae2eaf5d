package inspect

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseInstalled(t *testing.T) {
	const db = `C:Q1Z2lO8Xr0Xk1RLGVwHq4nJRLrsvE=
P:busybox
V:1.37.0-r0
A:x86_64
S:1
F:bin
no colon here

C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=
P:web
V:2.1.0-r0
A:x86_64

C:Q1nameless=
V:1
`
	got, err := ParseInstalled([]byte(db))
	if err != nil {
		t.Fatal(err)
	}
	want := []InstalledPackage{
		{Name: "busybox", Version: "1.37.0-r0", Arch: "x86_64", Checksum: "Q1Z2lO8Xr0Xk1RLGVwHq4nJRLrsvE="},
		{Name: "web", Version: "2.1.0-r0", Arch: "x86_64", Checksum: "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseInstalled (-want +got):\n%s", d)
	}
}
