package resolve

import (
	"maps"
	"slices"

	"chainguard.dev/apko/pkg/build/types"
	"github.com/hic-build/hic/compiler/compile"
)

// ApkoConfig is c as apko's image configuration, the type the resolver and
// the build hand to apko. It copies every field (slices and maps too, so
// apko's changes do not reach the compiled spec), and marshals to the same
// JSON as c; a nil list stays nil and an empty one empty.
func ApkoConfig(c compile.Config) types.ImageConfiguration {
	archs := newSlice[types.Architecture](c.Archs)
	for _, a := range c.Archs {
		archs = append(archs, types.Architecture(a))
	}
	users := newSlice[types.User](c.Accounts.Users)
	for _, u := range c.Accounts.Users {
		var gid types.GID
		if u.GID != nil {
			g := *u.GID
			gid = &g
		}
		users = append(users, types.User{UserName: u.UserName, UID: u.UID, GID: gid, HomeDir: u.HomeDir})
	}
	groups := newSlice[types.Group](c.Accounts.Groups)
	for _, g := range c.Accounts.Groups {
		groups = append(groups, types.Group{GroupName: g.GroupName, GID: g.GID, Members: slices.Clone(g.Members)})
	}
	paths := newSlice[types.PathMutation](c.Paths)
	for _, p := range c.Paths {
		paths = append(paths, types.PathMutation{Path: p.Path, Type: p.Type, UID: p.UID, GID: p.GID, Permissions: p.Permissions, Source: p.Source, Recursive: p.Recursive})
	}
	var layering *types.Layering
	if c.Layering != nil {
		layering = &types.Layering{Strategy: c.Layering.Strategy, Budget: c.Layering.Budget}
	}
	return types.ImageConfiguration{
		Contents: types.ImageContents{
			Repositories: slices.Clone(c.Contents.Repositories),
			Keyring:      slices.Clone(c.Contents.Keyring),
			Packages:     slices.Clone(c.Contents.Packages),
		},
		Entrypoint:  types.ImageEntrypoint{Command: c.Entrypoint.Command},
		Cmd:         c.Cmd,
		StopSignal:  c.StopSignal,
		WorkDir:     c.WorkDir,
		Accounts:    types.ImageAccounts{RunAs: c.Accounts.RunAs, Users: users, Groups: groups},
		Archs:       archs,
		Environment: maps.Clone(c.Environment),
		Paths:       paths,
		Annotations: maps.Clone(c.Annotations),
		Volumes:     slices.Clone(c.Volumes),
		Layering:    layering,
	}
}

// newSlice is an empty slice with room for from's elements, nil if from
// is nil: apko's configuration keeps the compiled one's nil and empty lists.
func newSlice[T, F any](from []F) []T {
	if from == nil {
		return nil
	}
	return make([]T, 0, len(from))
}
