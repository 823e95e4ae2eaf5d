// Command hic is the hardened image catalog compiler.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first SIGINT or SIGTERM cancels ctx, so the command stops cleanly;
	// from then on the signals have their default action again, so a second
	// one ends the process even if something ignores the context.
	go func() {
		<-ctx.Done()
		stop()
	}()
	// A closed stdout or stderr (hic build | head -1) must not kill a
	// build halfway, without its report: with SIGPIPE notified (to a
	// channel nobody reads), writes to it fail with EPIPE instead, and the
	// command runs to its end. Notify, not Ignore: an ignored signal would
	// stay ignored in the processes hic starts.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
