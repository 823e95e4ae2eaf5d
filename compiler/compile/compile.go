package compile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hic-build/hic/compiler/fsutil"
	"github.com/hic-build/hic/compiler/spec"
)

// SpecRefAnnotation names the spec an image was built from.
const SpecRefAnnotation = "dev.hic.spec.ref"

// Compile turns one spec into its compiled image.
func Compile(s *spec.Spec) (Image, error) {
	archs := make([]string, 0, len(s.Platforms))
	for _, p := range s.Platforms {
		os, arch, ok := strings.Cut(p, "/")
		if !ok || os != "linux" {
			return Image{}, fmt.Errorf("%s: platform %q: want linux/ARCH", s.Ref, p)
		}
		archs = append(archs, Arch(arch))
	}
	gid := s.User.GID
	annotations := map[string]string{SpecRefAnnotation: s.Ref}
	for k, v := range s.Annotations {
		annotations[k] = v
	}
	paths := make([]PathMutation, 0, len(s.Paths))
	for _, p := range s.Paths {
		paths = append(paths, PathMutation{Path: p.Path, Type: p.Type, UID: p.UID, GID: p.GID, Permissions: p.Mode})
	}
	ic := Config{
		Contents: Contents{
			Repositories: slices.Clone(s.Repositories),
			Keyring:      slices.Clone(s.Keyrings),
			Packages:     uniquePackages(s),
		},
		Entrypoint:  Entrypoint{Command: shellJoin(s.Entrypoint)},
		Cmd:         shellJoin(s.Cmd),
		StopSignal:  s.StopSignal,
		WorkDir:     s.Workdir,
		Environment: cloneMap(s.Env),
		Accounts: Accounts{
			RunAs:  strconv.FormatUint(uint64(s.RunAs.UID), 10),
			Users:  []User{{UserName: s.User.Name, UID: s.User.UID, GID: &gid, HomeDir: s.User.Home}},
			Groups: []Group{{GroupName: s.User.Name, GID: s.User.GID, Members: []string{s.User.Name}}},
		},
		Archs:       archs,
		Paths:       paths,
		Annotations: annotations,
		Volumes:     slices.Clone(s.Volumes),
	}
	exc := make([]Exception, 0, len(s.Exceptions))
	for _, e := range s.Exceptions {
		exc = append(exc, Exception{Rule: e.Rule, Reason: e.Reason})
	}
	tests := make([]Test, 0, len(s.Tests))
	for _, t := range s.Tests {
		tests = append(tests, Test{Name: t.Name, Command: slices.Clone(t.Command), Expect: t.Expect, Exit: t.Exit, Timeout: t.Timeout})
	}
	var pins map[string]string
	for url, fp := range s.Keys {
		if fp == spec.KeyUnpinned {
			continue
		}
		if pins == nil {
			pins = map[string]string{}
		}
		pins[url] = fp
	}
	return Image{
		Ref:        s.Ref,
		Repository: s.Repository,
		Tags:       slices.Clone(s.Tags),
		Config:     ic,
		KeyPins:    pins,
		Ports:      slices.Clone(s.Ports),
		Metadata: Metadata{
			Image: s.Image, Stream: s.Stream, Version: s.Version, Distro: s.Distro, Variant: s.Variant,
			Title: s.Meta.Title, Description: s.Meta.Description, Homepage: s.Meta.Homepage,
			Source: s.Annotations["org.opencontainers.image.source"], License: s.Meta.License,
			Categories: slices.Clone(s.Meta.Categories), Released: s.Dates.Released, EndOfLife: s.Dates.EOL,
			MainPackage: s.MainPackage, SourceFile: s.File,
		},
		Policy: Policy{
			RunAsUID:             s.RunAs.UID,
			RunAsUser:            s.RunAs.Name,
			ForbidShell:          s.Policy.Hardened,
			ForbidPackageManager: s.Policy.Hardened,
			ShellPaths:           slices.Clone(s.Policy.ShellPaths),
			PackageManagerPaths:  slices.Clone(s.Policy.PackageManagerPaths),
			Exceptions:           exc,
		},
		Tests: tests,
	}, nil
}

// uniquePackages is s's packages with each listed once, at its first
// place, and without the image's own packages that are redundant
// (spec.Redundant: the main package's name, which the pinned main package
// installs): hic vet's unique-packages names those. A package of the
// image's that the dev variant adds too is listed once; apko installs a
// set, so the image is the same.
func uniquePackages(s *spec.Spec) []string {
	red := s.Redundant()
	out := make([]string, 0, len(s.Packages))
	seen := make(map[string]bool, len(s.Packages))
	for i, p := range s.Packages {
		if !seen[p] && red[i] == "" {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// All compiles every spec, stopping at the first error.
func All(specs []*spec.Spec) ([]Image, error) {
	out := make([]Image, 0, len(specs))
	for _, s := range specs {
		img, err := Compile(s)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// Marshal renders an image in its stable flat form: indented JSON with
// sorted map keys and a trailing newline.
func Marshal(img Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(img); err != nil {
		return nil, fmt.Errorf("%s: marshal: %w", img.Ref, err)
	}
	return buf.Bytes(), nil
}

// Digest is "sha256:<hex>" of Marshal(img): the digest of the file in
// out/compiled/, recorded as the provenance's
// internalParameters.compiledSpecDigest and checked by hic verify.
func Digest(img Image) (string, error) {
	b, err := Marshal(img)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// FileName is the name of the compiled file of a spec ref: the ref with ':'
// replaced, safe on every file system.
func FileName(ref string) string {
	return strings.NewReplacer(":", "_", "/", "_").Replace(ref) + ".json"
}

// Arch is apko's name of the architecture of a platform ("linux/ARCH"):
// the OCI name, with apk's names mapped to it ("x86_64" -> "amd64",
// "aarch64" -> "arm64"), as apko's types.ParseArchitecture maps them.
func Arch(arch string) string {
	switch arch {
	case "x86":
		return "386"
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armhf":
		return "arm/v6"
	case "armv7":
		return "arm/v7"
	case "loong64", "loongarch64":
		return "loong64"
	}
	return arch
}

// shellJoin quotes words so apko's shlex splitting gives them back.
func shellJoin(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
			quoted[i] = w
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(w, "'", `'"'"'`) + "'"
	}
	return strings.Join(quoted, " ")
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// WriteDir writes the flat compiled form of each image into dir, one
// file per spec. A file whose content is unchanged is not rewritten, so its
// timestamp says when the spec last changed.
func WriteDir(dir string, imgs []Image) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, img := range imgs {
		b, err := Marshal(img)
		if err != nil {
			return err
		}
		if err := fsutil.WriteIfChanged(filepath.Join(dir, FileName(img.Ref)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
