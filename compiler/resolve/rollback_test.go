package resolve

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRollbacks(t *testing.T) {
	const repo = "https://packages.wolfi.dev/os"
	lock := func(pkgs ...string) *Lock {
		l := &Lock{Ref: "app:1-wolfi-runtime", Archs: map[string][]Package{}}
		for _, p := range pkgs {
			name, version, _ := strings.Cut(p, "=")
			l.Archs["x86_64"] = append(l.Archs["x86_64"], Package{Name: name, Version: version, Arch: "x86_64", Repository: repo})
		}
		return l
	}
	prev := lock("tzdata=2025b-r0", "glibc=2.42-r1", "zlib=1.3.1-r0")
	for _, tt := range []struct {
		name string
		next *Lock
		want []Rollback
	}{
		{"same", lock("tzdata=2025b-r0", "glibc=2.42-r1", "zlib=1.3.1-r0"), nil},
		{"upgrades", lock("tzdata=2025c-r0", "glibc=2.42-r2", "zlib=1.3.2-r0"), nil},
		{"added and removed", lock("tzdata=2025b-r0", "openssl=3.5.0-r0"), nil},
		{"letters sort after digits", lock("tzdata=2000a-r0", "glibc=2.42-r1"), []Rollback{{"tzdata", "x86_64", "2025b-r0", "2000a-r0", repo}}},
		{"epoch", lock("tzdata=2025b-r0", "glibc=2.42-r0", "zlib=1.3-r9"), []Rollback{
			{"glibc", "x86_64", "2.42-r1", "2.42-r0", repo}, {"zlib", "x86_64", "1.3.1-r0", "1.3-r9", repo}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Rollbacks(prev, tt.next)); diff != "" {
				t.Errorf("rollbacks (-want +got):\n%s", diff)
			}
		})
	}
	err := (&RollbackError{Ref: "app:1-wolfi-runtime", Rollbacks: Rollbacks(prev, lock("tzdata=2000a-r0"))}).Error()
	for _, w := range []string{"app:1-wolfi-runtime", "tzdata", "2025b-r0", "2000a-r0", repo, "exceptions", RuleNoRollback} {
		if !strings.Contains(err, w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
}
