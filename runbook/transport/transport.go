package transport

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
)

// Conn is a connection to one host. Implementations are safe for concurrent
// use: several steps' channels may be open at once.
type Conn interface {
	// Exec runs cmd on the host and waits for it. A non-zero exit status is
	// not an error: it is reported in Result.ExitCode. Cancelling ctx stops
	// the remote process.
	Exec(ctx context.Context, cmd Command) (Result, error)

	// Upload writes r to dest on the host: first to a temporary name in the
	// same directory, then renamed into place, so a reader never sees a
	// half-written file. The file is owned by the login user.
	Upload(ctx context.Context, r io.Reader, dest string, mode fs.FileMode) error

	// Dial opens a TCP connection from the host's point of view (an SSH
	// direct-tcpip channel for SSH; a plain dial for local), so steps on the
	// bastion can reach services only the host can see.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)

	// Close ends the connection and every channel on it.
	Close() error
}

// Command is one process to run on a host. Exactly one of Argv and Script is
// set.
type Command struct {
	// Argv is the program and its arguments; each is quoted for POSIX sh.
	Argv []string
	// Script is run as `sh -c Script`.
	Script string
	// Become, when set, runs the command as that OS user through `sudo -n -u`.
	Become string
	// Dir is the working directory; empty means "/" under become (sudo keeps
	// the login user's directory otherwise, which the target user often
	// cannot enter) and the login directory without.
	Dir string
	// Env is set in the command's environment.
	Env map[string]string
	// Stdin, when set, is copied to the process's standard input.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive each output line as it arrives,
	// without the trailing newline. Output is also collected in Result.
	Stdout func(line string)
	Stderr func(line string)
}

// Result is what a finished command left behind.
type Result struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// ErrUnreachable marks errors that mean the host could not be reached or
// stopped answering; the executor reports such hosts as unreachable.
var ErrUnreachable = errors.New("host unreachable")

// IsUnreachable reports whether err means the host was unreachable.
func IsUnreachable(err error) bool { return errors.Is(err, ErrUnreachable) }
