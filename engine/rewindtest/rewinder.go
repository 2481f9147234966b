package rewindtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// EnvBin is the environment variable that names the pg_rewind-compatible
// binary under test.
const EnvBin = "PGRUNBOOK_REWIND_BIN"

// DefaultBin is PostgreSQL 15's pg_rewind, the reference the scenarios were
// written against.
const DefaultBin = pgcluster.DefaultBinDir + "/pg_rewind"

// Rewinder is a pg_rewind-compatible program: it takes pg_rewind 15's flags
// and is expected to give its exit codes and message wording.
type Rewinder struct {
	// Path is the program's absolute path.
	Path string
}

// RewinderFromEnv returns the binary named by PGRUNBOOK_REWIND_BIN, or
// DefaultBin when the variable is empty.
func RewinderFromEnv() Rewinder {
	if p := os.Getenv(EnvBin); p != "" {
		return Rewinder{Path: p}
	}
	return Rewinder{Path: DefaultBin}
}

// Command prepares the program to run as the postgres OS user with args,
// for callers that need their own plumbing (test 009 appends stderr to a
// file inside the source data directory).
func (r Rewinder) Command(ctx context.Context, args ...string) (*exec.Cmd, error) {
	return pgcluster.Command(ctx, r.Path, args...)
}

// Result is what one run of the program produced.
type Result struct {
	// Args are the arguments, without the program.
	Args []string
	// Stdout and Stderr are the program's two output streams.
	Stdout, Stderr string
	// ExitCode is the exit status (-1 if killed by a signal).
	ExitCode int
}

// Run runs the program with args and waits for it. A nonzero exit is not an
// error (tests assert on it); failing to start the program is.
func (r Rewinder) Run(ctx context.Context, args ...string) (Result, error) {
	cmd, err := r.Command(ctx, args...)
	if err != nil {
		return Result{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
	default:
		return res, fmt.Errorf("run %s: %w", r.Path, err)
	}
	return res, nil
}

// Output is stdout followed by stderr.
func (r Result) Output() string {
	return r.Stdout + r.Stderr
}

// reportLines bounds how much output a failure message carries: --debug
// output runs to thousands of lines.
const reportLines = 40

// String describes the run for a failure message: the arguments, the exit
// code and the tail of each stream.
func (r Result) String() string {
	return fmt.Sprintf("args: %s\nexit code: %d\n--- stdout (tail) ---\n%s\n--- stderr (tail) ---\n%s",
		strings.Join(r.Args, " "), r.ExitCode, tail(r.Stdout, reportLines), tail(r.Stderr, reportLines))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines ...]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
