// Package transport runs commands and moves files on one host, over SSH or
// locally.
//
// A Conn is one live connection to one host for the whole run: every step is
// a new channel on it, so a step costs a channel open and a remote shell, not
// a TCP and SSH handshake. Commands are built as argv and quoted for POSIX sh
// (never with Go's %q, whose escaping sh does not understand), optionally
// wrapped in `sudo -n -u USER` for become.
//
//	conn, err := transport.DialSSH(ctx, transport.SSHConfig{
//		Name: "pg1", Addr: "10.77.0.11:22", User: "pgrb",
//		KeyFiles: []string{"/etc/pgrunbook/id_ed25519"},
//		KnownHosts: []string{"/etc/pgrunbook/known_hosts"},
//	})
//	res, err := conn.Exec(ctx, transport.Command{Argv: []string{"pg_controldata", pgdata}, Become: "postgres"})
//
// # Errors
//
// Errors that mean the host could not be reached, or stopped answering, match
// ErrUnreachable with errors.Is; the executor reports those hosts as
// unreachable rather than failed. A command that was running when the
// connection dropped also returns such an error ("connection lost while
// running ..."): its outcome is unknown, never reported as a success. A host
// key that known_hosts does not confirm is refused with a *HostKeyError,
// which matches both ErrHostKey and ErrUnreachable. A non-zero exit status
// is not an error; it is in Result.ExitCode.
//
// # SSH
//
// Host keys are checked against known_hosts files and the key types asked
// for are the ones recorded for the host, so a server with several keys is
// not rejected for offering an unrecorded type. Bastions are chained with
// direct-tcpip channels and every hop's key is checked under its own
// address. x/crypto/ssh has no deadlines of its own, so DialSSH bounds dial,
// handshake and authentication by SSHConfig.ConnectTimeout, every session
// open is bounded the same way, and a keepalive closes a connection whose
// peer stopped answering, which fails every call blocked on it. At most
// eight sessions run at once on a connection (sshd's MaxSessions is ten;
// SFTP takes one).
//
// # Cancellation
//
// Closing an SSH channel does not stop the remote process, and a signal sent
// over SSH does not reach a command under sudo. Every command therefore runs
// under a small sh watchdog (see shellLine) that owns the channel's stdin:
// when stdin reaches EOF (the channel is gone: cancelled, or the connection
// lost) while the command still runs, it kills the command's process group
// as the command's own user. The client never closes stdin itself; a
// command's own Stdin is sent to the watchdog framed. The watchdog is made
// of shell builtins in the login shell's own process and one forked
// subshell, so a step costs about what a bare SSH session does. The local
// transport uses the same command line, and also signals the group.
//
// # Environment and secrets
//
// Command.Env is passed with SSH setenv requests when sshd accepts them
// (AcceptEnv) and the command does not use become; otherwise, and always
// under sudo (which resets the environment), it goes on the command line as
// `K=V` assignments in front of the command, where other users of the host
// can read it in the process list. An Env variable whose name says it
// holds a secret (PASSWORD, PASSWD, SECRET or TOKEN in it) is therefore
// refused whenever it would go on the command line: pass secrets on
// Stdin, or in a file only their user can read (the rewind and wal_stage
// steps write a 0600 libpq passfile). The local transport puts Env in the
// process's environment when there is no become.
package transport
