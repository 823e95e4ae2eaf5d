package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/hic-build/hic/compiler/catalog"
	"github.com/hic-build/hic/compiler/fsutil"

	"cuelang.org/go/cue/format"
	"github.com/spf13/cobra"

	"github.com/hic-build/hic/compiler/load"
)

type fmtOptions struct {
	check  bool
	format string
}

func newFmtCmd(root *rootOptions) *cobra.Command {
	o := &fmtOptions{}
	cmd := &cobra.Command{
		Use:   "fmt [PATH...|-]",
		Short: "Format catalog files in the canonical CUE style",
		Long: `Fmt rewrites each catalog file (or the files under each PATH) in the canonical
CUE format. With --check it changes nothing, lists the files that are not
formatted and exits 1 if there are any. "hic fmt -" formats standard input to
standard output (with --check: prints nothing, exits 1 if it is not formatted).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(o.format, formatText, formatJSON); err != nil {
				return usageError("fmt: %v", err)
			}
			if len(args) == 1 && args[0] == "-" {
				return o.stdin(cmd)
			}
			if slices.Contains(args, "-") {
				return usageError("fmt: - (stdin) cannot be mixed with paths")
			}
			if len(args) == 0 {
				args = []string{root.catalog}
			}
			var files []string
			for _, a := range args {
				if fi, err := os.Stat(a); err == nil && !fi.IsDir() && filepath.Ext(a) != ".cue" {
					return usageError("fmt: %s is not a .cue file", a)
				}
				r, err := catalog.FindRoot(a)
				if fi, serr := os.Stat(a); err != nil && serr == nil && fi.Mode().IsRegular() {
					// A .cue file in no catalog is formatted all the same:
					// formatting needs no catalog.
					abs, _ := filepath.Abs(a)
					files = append(files, abs)
					continue
				}
				if err != nil {
					return usageError("%v", err)
				}
				cat, err := load.Load(cmd.Context(), r, load.Options{Jobs: 1})
				if err != nil {
					return usageError("%v", err)
				}
				abs, _ := filepath.Abs(a)
				for _, f := range cat.Files {
					p := filepath.Join(r, f)
					if p == abs || abs == r || hasDirPrefix(p, abs) {
						files = append(files, p)
					}
				}
			}
			unformatted, failed := 0, 0
			w := cmd.OutOrStdout()
			res := struct {
				Check bool `json:"check"`
				// Files are the files not formatted (--check) or formatted now.
				Files []string `json:"files"`
				// Failed are the files that do not parse.
				Failed []string `json:"failed"`
			}{Check: o.check, Files: []string{}, Failed: []string{}}
			if o.format == formatJSON {
				w = io.Discard
			}
			for _, p := range files {
				src, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				out, err := format.Source(src)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: cannot format: %v\n", p, err)
					res.Failed = append(res.Failed, relToWD(p))
					failed++
					continue
				}
				if bytes.Equal(src, out) {
					continue
				}
				unformatted++
				rel := relToWD(p)
				res.Files = append(res.Files, rel)
				if o.check {
					fmt.Fprintln(w, rel)
					continue
				}
				if err := writeFileAtomic(p, out); err != nil {
					return err
				}
				fmt.Fprintf(w, "formatted %s\n", rel)
			}
			if o.format == formatJSON {
				if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			}
			switch {
			case failed > 0:
				return &exitError{code: exitUsage, err: fmt.Errorf("%d files do not parse; hic vet shows where", failed)}
			case o.check && unformatted > 0:
				return &exitError{code: exitFindings, err: fmt.Errorf("%s not formatted; run hic fmt", count(unformatted, "file"))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.check, "check", false, "list unformatted files and exit 1 instead of rewriting them")
	cmd.Flags().StringVarP(&o.format, "format", "o", formatText, "output format: text or json (the files listed)")
	return cmd
}

// stdin formats standard input to standard output.
func (o *fmtOptions) stdin(cmd *cobra.Command) error {
	src, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return fmt.Errorf("fmt: read stdin: %w", err)
	}
	out, err := format.Source(src)
	if err != nil {
		return usageError("fmt: cannot format stdin: %v", err)
	}
	if o.check {
		if !bytes.Equal(src, out) {
			return &exitError{code: exitFindings, err: errors.New("stdin needs formatting; run hic fmt -")}
		}
		return nil
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

func hasDirPrefix(p, dir string) bool {
	return len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == filepath.Separator
}

// writeFileAtomic replaces path with data without ever leaving it half-written,
// keeping the mode of the file it replaces (0644 for a new file).
func writeFileAtomic(path string, data []byte) error {
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	return fsutil.WriteFileAtomic(path, data, perm)
}
