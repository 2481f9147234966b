package transport

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The watchdog is the part of every command's sh program, on SSH and
// locally, that makes cancellation reliable. It exists because closing an
// SSH channel does not stop the process behind it: sshd only closes the
// pipes, so a command that neither reads nor writes (sleep, a hung pg_ctl)
// lives on, and a SIGTERM sent with session.Signal reaches the login shell,
// which under sudo cannot signal the target user's processes.
//
// The program is run by the shell sshd starts (or by the shell right after
// sudo), so that a step costs as few processes as possible: that shell, a
// forked watchdog subshell that runs only builtins, and the command itself
// (no process at all for a builtin such as true). The watchdog keeps the
// channel's stdin for itself:
//
//   - The client never sends EOF. Reading EOF on stdin therefore means the
//     channel is gone (cancelled, session closed, connection lost), and if
//     the main shell is still waiting for the command the watchdog kills
//     its process group: SIGTERM at once, SIGKILL a second later from a
//     background process. It runs as the target user, inside sudo, so it
//     may signal the command.
//   - When the command ends normally the main shell kills the watchdog
//     (with SIGPIPE, the one signal sh does not report as "Killed"), so
//     daemons the command started are left alone.
//   - The main shell and, with stdin, the subshell around the command
//     survive SIGTERM (caught with a no-op that, unlike an ignore, the
//     command does not inherit), so a command that ignores SIGTERM still
//     has a live main shell when the channel closes, and the watchdog's
//     SIGKILL follows.
//   - A command without stdin gets /dev/null and the client sends nothing.
//     A command with stdin gets it through a pipe from the watchdog: the
//     client sends it framed as "LEN\n" followed by LEN bytes, ending with
//     "0\n", and the watchdog unframes it (head -c reads exactly LEN bytes,
//     never more), then closes the pipe so the command sees end of input.
//     The command then runs in a pipeline's subshell, which learns the
//     watchdog's pid from the first line of the pipe.
//
// Fds are moved with exec inside the forked subshells, never with
// redirections on a { } group: dash keeps a saved copy of a group's
// redirected fd open, and a stray copy of stdout or stderr would keep the
// channel from ever reaching EOF.

// killGroup is the watchdog's last act: if the main shell (its $$) still
// waits for the command, kill the process group.
const killGroup = `kill -0 $$ 2>/dev/null && { kill -TERM 0; { sleep 1; kill -KILL 0; } & }`

// watchdog runs the command (%s) with /dev/null as its stdin.
const watchdog = `trap : TERM
exec 3<&0 </dev/null
{ exec <&3 >/dev/null 2>&1 3<&-; trap '' TERM; while read -r _; do :; done; ` + killGroup + `; } &
w=$!
%s 3<&-
r=$?
kill -PIPE $w 2>/dev/null
exit $r`

// watchdogStdin runs the command (%s) with the unframed stdin. The
// watchdog's pid is read from /proc/self/stat, a builtin read, where
// /proc exists, and from a child sh elsewhere.
const watchdogStdin = `trap : TERM
exec 3<&0 </dev/null
{ exec <&3 2>/dev/null 3<&-; trap '' TERM
{ read -r w _ </proc/self/stat && echo "$w"; } || sh -c 'echo $PPID'
while IFS= read -r n && [ "$n" -gt 0 ]; do head -c "$n" || exit; done
exec >&-
while read -r _; do :; done
exec </dev/null
` + killGroup + `; } | { trap : TERM PIPE; IFS= read -r w; %s 3<&-; r=$?; kill -PIPE "$w" 2>/dev/null; exit "$r"; }`

// shellLine returns the sh command line that runs cmd under the watchdog:
//
//	[cd DIR || exit\n]<watchdog running [K=V ...] COMMAND>
//	cd / && exec sudo -n -u USER -- sh -c 'cd DIR || exit 1; <watchdog ...>'
//
// Without become the login shell runs the program itself (it must be a
// POSIX shell: sh, dash or bash). Under become the directory is changed by
// the target user, after sudo, because the login user often cannot enter
// the target user's directories (PGDATA is 0700), and sudo itself starts
// in "/" so that tools run as the target user never find themselves in a
// directory they cannot read. sudo resets the environment, so Env goes on
// the line, as assignments in front of the command. envOnLine is false
// when the transport has already passed Env by other means (SSH setenv
// requests), which keeps values out of the process list.
func shellLine(cmd Command, envOnLine bool) (string, error) {
	program, err := commandProgram(cmd)
	if err != nil {
		return "", err
	}
	env, err := envAssignments(cmd.Env)
	if err != nil {
		return "", err
	}
	if envOnLine && len(env) > 0 {
		if err := checkEnvOffLine(cmd.Env); err != nil {
			return "", err
		}
		program = env + " " + program
	}
	tmpl := watchdog
	if cmd.Stdin != nil {
		tmpl = watchdogStdin
	}
	inner := fmt.Sprintf(tmpl, program)
	if cmd.Become == "" {
		if cmd.Dir != "" {
			inner = "cd " + Quote(cmd.Dir) + " || exit\n" + inner
		}
		return inner, nil
	}
	if cmd.Dir != "" {
		inner = "cd " + Quote(cmd.Dir) + " || exit 1\n" + inner
	}
	return "cd / && exec sudo -n -u " + Quote(cmd.Become) + " -- sh -c " + Quote(inner), nil
}

// commandProgram returns the quoted program of cmd, checking that exactly
// one of Argv and Script is set.
func commandProgram(cmd Command) (string, error) {
	switch {
	case len(cmd.Argv) > 0 && cmd.Script != "":
		return "", errors.New("build command: both argv and script are set")
	case len(cmd.Argv) > 0:
		return Join(cmd.Argv), nil
	case cmd.Script != "":
		return "sh -c " + Quote(cmd.Script), nil
	default:
		return "", errors.New("build command: neither argv nor script is set")
	}
}

// envAssignments returns env as sh assignments (K=V with V quoted),
// sorted by name so that the same command always gives the same line.
// In front of the command they set its environment only, not the
// watchdog's.
func envAssignments(env map[string]string) (string, error) {
	if len(env) == 0 {
		return "", nil
	}
	names := make([]string, 0, len(env))
	for k := range env {
		if !validEnvName(k) {
			return "", fmt.Errorf("build command: invalid environment variable name %q", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	words := make([]string, len(names))
	for i, k := range names {
		words[i] = k + "=" + Quote(env[k])
	}
	return strings.Join(words, " "), nil
}

// validEnvName reports whether name is a portable environment variable
// name: letters, digits and underscore, not starting with a digit.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// commandName names cmd in errors: its program, or "script".
func commandName(cmd Command) string {
	if len(cmd.Argv) > 0 {
		return cmd.Argv[0]
	}
	return "script"
}
