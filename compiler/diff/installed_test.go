package diff

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAddInstalled(t *testing.T) {
	locks := func(openssl string) Installed {
		return Installed{
			"x86_64":  {"nginx": "1.29.3-r0", "openssl": openssl},
			"aarch64": {"nginx": "1.29.3-r0", "openssl": openssl},
		}
	}
	pkgChange := Change{Field: "packages", Key: "nginx", Kind: Changed, Old: "nginx=1.29.3-r0", New: "nginx=1.29.4-r0"}
	opensslChanges := []Change{
		{Field: "installed.aarch64", Key: "openssl", Kind: Changed, Old: "openssl=3.5.0-r0", New: "openssl=3.5.1-r0"},
		{Field: "installed.x86_64", Key: "openssl", Kind: Changed, Old: "openssl=3.5.0-r0", New: "openssl=3.5.1-r0"},
	}
	tests := []struct {
		name       string
		d          *Diff
		base, head map[string]Installed
		want       *Diff
	}{
		{"no locks", &Diff{Unchanged: 2}, nil, nil, &Diff{Unchanged: 2}},
		{"same packages", &Diff{Unchanged: 1},
			map[string]Installed{"a:1": locks("3.5.0-r0")}, map[string]Installed{"a:1": locks("3.5.0-r0")},
			&Diff{Unchanged: 1}},
		{"an unchanged spec whose packages changed", &Diff{Changed: []SpecDiff{{Ref: "b:1", Changes: []Change{pkgChange}}}, Unchanged: 1},
			map[string]Installed{"a:1": locks("3.5.0-r0")}, map[string]Installed{"a:1": locks("3.5.1-r0")},
			&Diff{Changed: []SpecDiff{{Ref: "a:1", Changes: opensslChanges}, {Ref: "b:1", Changes: []Change{pkgChange}}}}},
		{"a changed spec gains the installed changes", &Diff{Changed: []SpecDiff{{Ref: "a:1", Changes: []Change{pkgChange}}}},
			map[string]Installed{"a:1": locks("3.5.0-r0")}, map[string]Installed{"a:1": locks("3.5.1-r0")},
			&Diff{Changed: []SpecDiff{{Ref: "a:1", Changes: append([]Change{pkgChange}, opensslChanges...)}}}},
		{"an arch dropped, a lock on one side only, an added spec", &Diff{Added: []string{"c:1"}, Unchanged: 2},
			map[string]Installed{"a:1": locks("3.5.0-r0"), "b:1": locks("1")},
			map[string]Installed{"a:1": {"x86_64": {"nginx": "1.29.3-r0", "openssl": "3.5.0-r0"}}, "c:1": locks("1")},
			&Diff{Added: []string{"c:1"}, Unchanged: 1, Changed: []SpecDiff{{Ref: "a:1", Changes: []Change{
				{Field: "installed.aarch64", Key: "nginx", Kind: Removed, Old: "nginx=1.29.3-r0"},
				{Field: "installed.aarch64", Key: "openssl", Kind: Removed, Old: "openssl=3.5.0-r0"},
			}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.AddInstalled(tc.base, tc.head)
			if diff := cmp.Diff(tc.want, tc.d); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
