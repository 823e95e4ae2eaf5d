package load_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/load"
)

const (
	acmeURL = "https://apk.acme.example/os"
	acmeKey = "https://apk.acme.example/acme-signing.rsa.pub"
	acmeFP  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

func acmeRepositories(fp string) []byte {
	return []byte("package hic\n\nrepositories: acme: {\n\turl: \"" + acmeURL + "\"\n\tkeys: \"" + acmeKey + "\": \"" + fp + "\"\n}\n")
}

// appUsing is the test app naming extra repositories.
func appUsing(t *testing.T, names string) []byte {
	return []byte(strings.Replace(string(readApp(t)), "\tpackage: \"app\"\n", "\tpackage: \"app\"\n\textraRepositories: ["+names+"]\n", 1))
}

// TestExtraRepositories: a repository the catalog declares in repositories/
// is added, with its pinned key, to the specs of the images that name it,
// also when only their folder is loaded; a name nobody declared and a
// malformed pin are findings where they are written.
func TestExtraRepositories(t *testing.T) {
	for _, dirs := range [][]string{nil, {"app"}} {
		cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Dirs: dirs, Overlay: map[string][]byte{
			"repositories/acme.cue": acmeRepositories(acmeFP),
			"app/app.cue":           appUsing(t, `"acme"`),
			"other/other.cue":       []byte(strings.Replace(string(readApp(t)), "images: app:", "images: other:", 1)),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(cat.Findings) > 0 {
			t.Fatalf("dirs %v: findings: %+v", dirs, cat.Findings)
		}
		n := 0
		for _, s := range cat.Specs {
			uses := s.Image == "app"
			has := s.Repositories[len(s.Repositories)-1] == acmeURL
			if uses != has || uses != (s.Keys[acmeKey] == acmeFP) || uses != (s.Keyrings[len(s.Keyrings)-1] == acmeKey) {
				t.Errorf("dirs %v: %s: repositories %v, keyrings %v, keys %v", dirs, s.Ref, s.Repositories, s.Keyrings, s.Keys)
			}
			if uses {
				n++
				if s.Repositories[0] == acmeURL {
					t.Errorf("%s: the extra repository comes before the distro's: %v", s.Ref, s.Repositories)
				}
			}
		}
		if n == 0 {
			t.Errorf("dirs %v: no spec of app", dirs)
		}
	}

	for _, tt := range []struct {
		name       string
		repos, app []byte
		file, want string
	}{
		{"undeclared name", acmeRepositories(acmeFP), appUsing(t, `"acme", "nosuch"`), "app/app.cue", "nosuch"},
		{"pin not a fingerprint", acmeRepositories("sha256:1234"), appUsing(t, `"acme"`), "repositories/acme.cue", `"sha256:1234"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cat, err := load.Load(context.Background(), t.TempDir(), load.Options{Overlay: map[string][]byte{
				"repositories/acme.cue": tt.repos, "app/app.cue": tt.app,
			}})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range cat.Findings {
				if f.Pos.File == tt.file && strings.Contains(f.Message, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no finding in %s naming %s: %+v", tt.file, tt.want, cat.Findings)
			}
		})
	}
}
