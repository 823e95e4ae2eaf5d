package resolve

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/google/go-cmp/cmp"
	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/spec"
	"github.com/hic-build/hic/compiler/testenv"
)

// apkoConfigOf is the apko configuration compile.Compile built for a spec
// before compile had its own Config type (hic before 2026-12-02): the
// reference ApkoConfig and compile.Config's JSON must reproduce, since the
// compiled spec's digest is an input of every image.
func apkoConfigOf(t *testing.T, s *spec.Spec) types.ImageConfiguration {
	archs := make([]types.Architecture, 0, len(s.Platforms))
	for _, p := range s.Platforms {
		_, arch, _ := strings.Cut(p, "/")
		archs = append(archs, types.ParseArchitecture(arch))
	}
	gid := s.User.GID
	annotations := map[string]string{compile.SpecRefAnnotation: s.Ref}
	for k, v := range s.Annotations {
		annotations[k] = v
	}
	paths := make([]types.PathMutation, 0, len(s.Paths))
	for _, p := range s.Paths {
		paths = append(paths, types.PathMutation{Path: p.Path, Type: p.Type, UID: p.UID, GID: p.GID, Permissions: p.Mode})
	}
	var env map[string]string
	if len(s.Env) > 0 {
		env = s.Env
	}
	// The quoting is compile's own (shellJoin); take it from the compiled image.
	img, err := compile.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return types.ImageConfiguration{
		Contents: types.ImageContents{
			Repositories: slices.Clone(s.Repositories),
			Keyring:      slices.Clone(s.Keyrings),
			Packages:     firstOfEach(s.Packages),
		},
		Entrypoint:  types.ImageEntrypoint{Command: img.Config.Entrypoint.Command},
		Cmd:         img.Config.Cmd,
		StopSignal:  s.StopSignal,
		WorkDir:     s.Workdir,
		Environment: env,
		Accounts: types.ImageAccounts{
			RunAs:  strconv.FormatUint(uint64(s.RunAs.UID), 10),
			Users:  []types.User{{UserName: s.User.Name, UID: s.User.UID, GID: types.GID(&gid), HomeDir: s.User.Home}},
			Groups: []types.Group{{GroupName: s.User.Name, GID: s.User.GID, Members: []string{s.User.Name}}},
		},
		Archs:       archs,
		Paths:       paths,
		Annotations: annotations,
		Volumes:     slices.Clone(s.Volumes),
	}
}

// firstOfEach is pkgs with each listed once, at its first place: since
// 2026-12-03 compile lists a package the base or the dev variant installs
// too once (three dev specs of the catalog named busybox and apk-tools
// twice); the catalog has no spec whose own packages compile also leaves
// out (the main package's bare name).
func firstOfEach(pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as compile.Marshal
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestApkoConfigOfRealSpecs compiles every spec of the real catalog and
// wants compile.Config to marshal to the very bytes apko's type did (so
// compile.Marshal, and the compiled-spec digest every image records, are
// unchanged), and ApkoConfig to give apko the configuration it got before.
func TestApkoConfigOfRealSpecs(t *testing.T) {
	c, err := catalog.Load(context.Background(), filepath.Join(testenv.RepoRoot(t), "catalog"), catalog.Options{Today: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	specs := c.Specs()
	if len(specs) < 1000 {
		t.Fatalf("the catalog has %d specs, want over 1,000", len(specs))
	}
	for _, s := range specs {
		img, err := compile.Compile(s)
		if err != nil {
			t.Fatalf("%s: %v", s.Ref, err)
		}
		want := apkoConfigOf(t, s)
		got := ApkoConfig(img.Config)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: ApkoConfig (-want +got):\n%s", s.Ref, diff)
		}
		if w, g := marshal(t, want), marshal(t, img.Config); !bytes.Equal(w, g) {
			t.Errorf("%s: compile.Config marshals to\n%s\napko's type to\n%s", s.Ref, g, w)
		}
	}
}

// TestApkoConfigCopies: apko's changes to its configuration do not reach
// the compiled spec.
func TestApkoConfigCopies(t *testing.T) {
	gid := uint32(7)
	c := compile.Config{
		Contents:    compile.Contents{Packages: []string{"a"}},
		Accounts:    compile.Accounts{Users: []compile.User{{UserName: "u", GID: &gid}}, Groups: []compile.Group{{GroupName: "g", Members: []string{"u"}}}},
		Environment: map[string]string{"K": "v"},
		Annotations: map[string]string{"a": "b"},
		Volumes:     []string{"/v"},
		Archs:       []string{"amd64"},
	}
	before := marshal(t, c)
	a := ApkoConfig(c)
	a.Contents.Packages[0] = "x"
	*a.Accounts.Users[0].GID = 9
	a.Accounts.Groups[0].Members[0] = "x"
	a.Environment["K"] = "x"
	a.Annotations["a"] = "x"
	a.Volumes[0] = "x"
	a.Archs[0] = "x"
	if after := marshal(t, c); !bytes.Equal(before, after) {
		t.Errorf("changing ApkoConfig's result changed the compiled config:\n%s\n%s", before, after)
	}
}
