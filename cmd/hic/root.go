package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/chainguard-dev/clog"

	"github.com/hic-build/hic/compiler/gunzip"
	"github.com/hic-build/hic/compiler/pipeline"
	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitFindings = 1 // the command ran and found problems (findings, failed builds, failed checks), or the machine failed it (disk full, I/O error)
	exitUsage    = 2 // bad flags or arguments, or input that could not be loaded
)

// exitError carries an exit code through cobra. Commands return it when the
// message has already been printed (or needs none) and only the code matters.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks an error as the user's: exit 2.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// rootOptions are the global flags and the process environment, handed to
// every command constructor. Nothing in cmd/hic lives at package level.
type rootOptions struct {
	catalog string // catalog root directory
	verbose bool
	quiet   bool // -q: stdout discarded
	getenv  func(string) string
	// cpuProfile names a file for a CPU profile of the command (hidden flag,
	// for benchmarking); profile is the open file while it runs.
	cpuProfile string
	profile    *os.File
}

// run builds a fresh command tree, runs it, prints an error once and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	opts := &rootOptions{getenv: getenv}
	root := newRootCmd(opts, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if opts.profile != nil {
		pprof.StopCPUProfile()
		opts.profile.Close()
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "hic: %v\n", ee.err)
		}
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "hic: interrupted")
		return 130
	}
	fmt.Fprintf(stderr, "hic: %v\n", err)
	if machineFailure(err) {
		return exitFindings
	}
	// Errors from cobra's own flag and argument parsing are usage errors.
	return exitUsage
}

// machineFailure reports whether err is the machine's failure rather than
// the user's: a full disk or quota, an I/O error, a read-only file
// system, no memory or file descriptors left. The command ran and failed
// (exit 1): retrying once that is fixed can succeed, so it is no usage
// error.
func machineFailure(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS, syscall.ENOMEM, syscall.EMFILE, syscall.ENFILE} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// pathFlags are the flags naming a directory or file. Given empty
// (--out ”, -C ”), they are refused rather than read as the current
// directory.
var pathFlags = []string{"out", "catalog", "layout", "mirrors", "output-dir", "build"}

// refuseEmptyPaths is a usage error for a path flag set to "".
func refuseEmptyPaths(cmd *cobra.Command) error {
	for _, name := range pathFlags {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed || f.Value.String() != "" {
			continue
		}
		dash := "--" + name
		if f.Shorthand != "" {
			dash = "-" + f.Shorthand + "/--" + name
		}
		return usageError("%s is empty: give a directory (%s %s is the default)", dash, dash, shellQuote(f.DefValue))
	}
	return nil
}

// shellQuote quotes s for a shell when it needs it (” for the empty string).
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"$`\\*?[]{}();&|<>#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func newRootCmd(opts *rootOptions, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "hic",
		Short: "hic compiles a catalog of hardened container image specs into signed OCI images",
		Long: `hic is the hardened image catalog compiler. It type-checks image specs written
in CUE against a hardening schema, compiles them through apko into minimal OCI
images, and signs in-toto attestations for each image.

Every command that prints data takes -o/--format: text (the default) or
json, plus a few of its own (vet: github, diff: markdown, show: yaml,
plan: buildkite).
-q/--quiet prints nothing on stdout and no progress on stderr (errors
only); -C/--catalog (env HIC_CATALOG) is shown on the commands that read
the catalog.

Exit status: 0 success; 1 the command ran and found problems (failing
findings, failed builds, failed verification checks, refused attestations)
or the machine failed it (disk full, I/O error, read-only file system);
2 usage error (bad flags or arguments, an unknown ref, input that does not
load); 130 interrupted.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := refuseEmptyPaths(cmd); err != nil {
				return err
			}
			if opts.quiet {
				cmd.Root().SetOut(io.Discard)
				cmd.SetOut(io.Discard)
			}
			level := slog.LevelWarn
			if opts.verbose {
				level = slog.LevelDebug
			}
			// The one logger travels in the context (clog.FromContext), as
			// apko's does: hic's packages and apko log at the same level.
			logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			cmd.SetContext(clog.WithLogger(cmd.Context(), clog.NewLogger(logger)))
			if opts.cpuProfile != "" {
				f, err := os.Create(opts.cpuProfile)
				if err != nil {
					return usageError("--cpuprofile: %v", err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return usageError("--cpuprofile: %v", err)
				}
				opts.profile = f
			}
			return nil
		},
	}
	root.SetVersionTemplate(versionLine())
	defaultCatalog := "catalog"
	if v := opts.getenv("HIC_CATALOG"); v != "" {
		defaultCatalog = v
	}
	root.PersistentFlags().BoolVarP(&opts.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.PersistentFlags().BoolVarP(&opts.quiet, "quiet", "q", false, "print nothing on stdout and no progress on stderr (errors still go to stderr; the exit status tells)")
	root.PersistentFlags().StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })

	// One line per command; each constructor lives in its own file.
	root.AddCommand(
		newVetCmd(opts),
		newFmtCmd(opts),
		newListCmd(opts),
		newShowCmd(opts),
		newCompileCmd(opts),
		newMirrorCmd(opts),
		newBuildCmd(opts),
		newKeygenCmd(opts),
		newPublishCmd(opts),
		newVerifyCmd(opts),
		newAttestationsCmd(opts),
		newPlanCmd(opts),
		newReportCmd(opts),
		newDiffCmd(opts),
		newGCCmd(opts),
		newIndexCmd(opts),
		newBumpCmd(opts),
		newSiteCmd(opts),
		newVersionCmd(),
	)
	// -C/--catalog is shown only on the commands that read the catalog
	// (keygen, report merge and version do not); on those it is hidden and
	// ignored, so a wrapper that always passes it keeps working. `hic -C DIR
	// vet` works as well as `hic vet -C DIR`: the command's own flags parse
	// the whole line.
	for _, c := range root.Commands() {
		c.PersistentFlags().StringVarP(&opts.catalog, "catalog", "C", defaultCatalog, "catalog root directory (env HIC_CATALOG)")
		switch c.Name() {
		case "keygen", "report", "version":
			_ = c.PersistentFlags().MarkHidden("catalog")
		}
	}
	return root
}

// versionLine is what hic version and hic --version print.
func versionLine() string {
	return fmt.Sprintf("hic %s (apko %s, inflate %s)\n", version, pipeline.ApkoVersion(), gunzip.Implementation)
}

func newVersionCmd() *cobra.Command {
	format := formatText
	cmd := &cobra.Command{
		Use:   "version [-o text|json]",
		Short: "Print hic's version, the apko version it builds with and its package inflater",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, formatText, formatJSON); err != nil {
				return usageError("version: %v", err)
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					Hic     string `json:"hic"`
					Apko    string `json:"apko"`
					Inflate string `json:"inflate"`
				}{version, pipeline.ApkoVersion(), gunzip.Implementation})
			}
			fmt.Fprint(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "o", formatText, "output format: text or json")
	return cmd
}
