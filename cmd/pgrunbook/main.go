// Command pgrunbook rejoins a failed-over PostgreSQL primary as a standby of
// the new primary, by running YAML playbooks over SSH, with its own rewind
// engine.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
