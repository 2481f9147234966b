package transport

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// watchdog is the sh program every command runs under, on SSH and locally.
// It exists because closing an SSH channel does not stop the process behind
// it: sshd only closes the pipes, so a command that neither reads nor writes
// (sleep, a hung pg_ctl) lives on, and a SIGTERM sent with session.Signal
// reaches the login shell, which under sudo cannot signal the target user's
// processes. The watchdog, a second sh, keeps the channel's stdin for itself:
//
//   - The client sends the command's stdin framed as "LEN\n" followed by LEN
//     bytes, ending with "0\n"; the watchdog unframes it into a pipe to the
//     command (head -c reads exactly LEN bytes, never more), then closes
//     that pipe so the command sees end of input.
//   - The client never sends EOF itself. Reading EOF on stdin therefore
//     means the channel is gone (cancelled, session closed, connection
//     lost), and if the main shell is still waiting for the command the
//     watchdog kills its process group: SIGTERM at once, SIGKILL a second
//     later from a background process, so that the watchdog itself ends at
//     once and the main shell (which waits for the whole pipeline) is not
//     held up by it. It runs as the target user, inside sudo, so it may
//     signal the command.
//   - The watchdog first sends its pid down the pipe; when the command ends
//     normally the shell around it kills the watchdog (with SIGPIPE, the
//     one signal sh does not report as "Killed"), so daemons the
//     command started are left alone and the pipeline ends with the
//     command (dash's wait waits for a whole pipeline).
//   - A SIGTERM sent to the main shell (session.Signal, or relayed by sudo)
//     is passed on to the whole process group, since the shell itself only
//     waits for the command. The main shell and the subshell around the
//     command outlive that SIGTERM (ignored, and caught with a no-op that,
//     unlike an ignore, the command does not inherit; the subshell also
//     survives the SIGPIPE of reporting "Terminated" to a closed channel,
//     so it always stops the watchdog) and keep waiting, so
//     a command that ignores SIGTERM still has a live main shell when the
//     channel closes, and the watchdog's SIGKILL follows.
//
// A background list's stdin is /dev/null in sh, so the channel's stdin is
// kept on fd 3 and handed to the watchdog alone. Fds are moved with exec or
// on simple commands, not with redirections on a { } group: dash keeps a
// saved copy of a group's redirected fd open, and a stray copy of stdout or
// stderr would keep the channel from ever reaching EOF. %s is the command.
const watchdog = `trap 'trap "" TERM; kill -TERM 0' TERM
exec 3<&0
sh -c %s watchdog $$ <&3 2>/dev/null 3<&- | { exec 3<&-; trap : TERM PIPE; IFS= read -r w; %s; r=$?; kill -PIPE "$w" 2>/dev/null; exit "$r"; } &
p=$!
wait $p; r=$?
while kill -0 $p 2>/dev/null; do wait $p; r=$?; done
exit $r`

// watchdogLoop is the watchdog's own program; $1 is the main shell's pid.
const watchdogLoop = `trap '' TERM
echo $$
while IFS= read -r n && [ "$n" -gt 0 ]; do head -c "$n" || exit; done
exec >&-
cat >/dev/null
exec </dev/null
kill -0 "$1" && { kill -TERM 0; { sleep 1; kill -KILL 0; } & }`

// shellLine returns the sh command line that runs cmd under the watchdog:
//
//	[cd DIR &&] exec [env -- K=V ...] sh -c '<watchdog running the command>'
//	cd / && exec sudo -n -u USER -- [env -- K=V ...] sh -c 'cd DIR || exit 1; <watchdog ...>'
//
// Under become the directory is changed by the target user, after sudo,
// because the login user often cannot enter the target user's directories
// (PGDATA is 0700), and sudo itself starts in "/" so that tools run as the
// target user never find themselves in a directory they cannot read. sudo
// resets the environment, so Env goes on the line after sudo. envOnLine is
// false when the transport has already passed Env by other means (SSH
// setenv requests), which keeps values out of the process list.
func shellLine(cmd Command, envOnLine bool) (string, error) {
	program, err := commandProgram(cmd)
	if err != nil {
		return "", err
	}
	env, err := envWords(cmd.Env)
	if err != nil {
		return "", err
	}
	inner := fmt.Sprintf(watchdog, Quote(watchdogLoop), program)
	var b strings.Builder
	if cmd.Become != "" {
		if cmd.Dir != "" {
			inner = "cd " + Quote(cmd.Dir) + " || exit 1\n" + inner
		}
		b.WriteString("cd / && exec sudo -n -u " + Quote(cmd.Become) + " -- ")
	} else {
		if cmd.Dir != "" {
			b.WriteString("cd " + Quote(cmd.Dir) + " && ")
		}
		b.WriteString("exec ")
	}
	if envOnLine && len(env) > 0 {
		b.WriteString("env -- " + Join(env) + " ")
	}
	b.WriteString("sh -c " + Quote(inner))
	return b.String(), nil
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

// envWords returns K=V words for env, sorted by name so that the same
// command always gives the same line.
func envWords(env map[string]string) ([]string, error) {
	names := make([]string, 0, len(env))
	for k := range env {
		if !validEnvName(k) {
			return nil, fmt.Errorf("build command: invalid environment variable name %q", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	words := make([]string, len(names))
	for i, k := range names {
		words[i] = k + "=" + env[k]
	}
	return words, nil
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
