package smoke

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Extract writes img's flattened root filesystem (whiteouts applied) into
// dir, which must exist and be empty. Nothing is written outside dir: names
// are cleaned, and every write goes through an os.Root, which refuses to
// follow a link out of it. Regular files, directories, symlinks and hard
// links are written with their permission bits (setuid, setgid and sticky
// bits dropped: nothing needs them to run a test); devices and FIFOs are
// skipped. When chown is set (hic runs as root), owners are the image's.
// The mount points the sandbox needs (dev, proc, tmp) are created when the
// image lacks them.
func Extract(ctx context.Context, img v1.Image, dir string, chown bool) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	type dirMode struct {
		name string
		mode fs.FileMode
	}
	var dirs []dirMode
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		name := path.Clean("/" + h.Name)[1:]
		if name == "" {
			continue
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
			dirs = append(dirs, dirMode{name, mode})
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = root.Chmod(name, mode)
			}
			if err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		case tar.TypeLink:
			target := path.Clean("/" + h.Linkname)[1:]
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return fmt.Errorf("extract %s: hard link to %s: %w", name, target, err)
			}
		default:
			continue // devices, FIFOs: the sandbox has its own /dev
		}
		if chown {
			if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		}
	}
	for _, m := range []string{"dev", "proc", "tmp"} {
		if err := root.Mkdir(m, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("extract: mount point /%s: %w", m, err)
		}
	}
	// Directory modes last, so a read-only directory did not stop its own
	// entries from being written.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chmod(dirs[i].name, dirs[i].mode); err != nil {
			return fmt.Errorf("extract %s: %w", dirs[i].name, err)
		}
	}
	return nil
}
