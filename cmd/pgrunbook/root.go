package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries the exit code a subcommand chose; its message, when
// present, is printed once without further decoration.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode marks err as ending the program with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "pgrunbook",
		Short:         "Rejoin a failed-over PostgreSQL primary as a standby, by playbook",
		SilenceUsage:  true,
		SilenceErrors: true,
		// The CLI is the one DESIGN.md fixes; shell completion can come
		// when someone asks for it.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.AddCommand(newVersionCmd())
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands are registered by the files that define them, so that adding a
// subcommand touches only its own file.
var subcommands []func() *cobra.Command

// execute runs the command line and returns the process exit code.
func execute(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(os.Stderr, "pgrunbook: %v\n", ee.err)
		}
		return ee.code
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "pgrunbook: interrupted")
		return 130
	}
	fmt.Fprintf(os.Stderr, "pgrunbook: %v\n", err)
	return 2
}
