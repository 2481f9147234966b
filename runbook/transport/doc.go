// Package transport runs commands and moves files on one host, over SSH or
// locally.
//
// A Conn is one live connection to one host for the whole run: every step is
// a new channel on it, so a step costs a channel open and a remote shell, not
// a TCP and SSH handshake. Commands are built as argv and quoted for POSIX sh
// (never with Go's %q, whose escaping sh does not understand), optionally
// wrapped in `sudo -n -u USER` for become.
//
//	conn, err := transport.DialSSH(ctx, transport.SSHConfig{...})
//	res, err := conn.Exec(ctx, transport.Command{Argv: []string{"pg_controldata", pgdata}, Become: "postgres"})
//
// Errors that mean the host could not be reached, or stopped answering, match
// ErrUnreachable with errors.Is; the executor reports those hosts as
// unreachable rather than failed.
package transport
