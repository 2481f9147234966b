package transport

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSSHProcessesPerCommand guards what a step costs on the host: the
// processes around a running command, counted in the session sshd made
// for it. Forks and execs are most of a step's CPU on the host, so a
// change to the watchdog that adds one shows up here, not only in a
// benchmark.
func TestSSHProcessesPerCommand(t *testing.T) {
	s := startSSHD(t, sshdOptions{})
	conn := dialTest(t, s.config())
	tests := []struct {
		name   string
		become string
		stdin  bool
		// want are the command names in the session, sorted.
		want []string
	}{
		// The login shell running the watchdog program, the watchdog
		// subshell, the command.
		{name: "login user", want: []string{"sh", "sh", "sleep"}},
		// With stdin the command runs in a pipeline's subshell.
		{name: "stdin", stdin: true, want: []string{"sh", "sh", "sh", "sleep"}},
		// sudo keeps a parent process; the shell after it runs the watchdog.
		{name: "become", become: "postgres", want: []string{"sh", "sh", "sleep", "sudo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arg := uniqueSleep()
			cmd := Command{Argv: []string{"sleep", arg}, Become: tt.become}
			if tt.stdin {
				cmd.Stdin = strings.NewReader("x")
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := conn.Exec(ctx, cmd)
				done <- err
			}()
			defer func() {
				cancel()
				<-done
				waitForNoProcess(t, arg, 5*time.Second)
			}()
			waitForProcess(t, arg, 10*time.Second)
			pid, _ := strconv.Atoi(processesWith(arg)[0])
			// A short-lived helper (head unframing stdin) may still be on its
			// way out: look again for a while before failing.
			deadline := time.Now().Add(2 * time.Second)
			for {
				got := sessionCommands(t, pid)
				slices.Sort(got)
				if slices.Equal(got, tt.want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("processes in the command's session: %q, want %q", got, tt.want)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// sessionCommands returns the command names of the processes in pid's
// session.
func sessionCommands(t *testing.T, pid int) []string {
	t.Helper()
	sid := statField(pid, 3)
	if sid == "" {
		t.Fatalf("no session for pid %d", pid)
	}
	var comms []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil || statField(p, 3) != sid {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err == nil {
			comms = append(comms, strings.TrimSpace(string(comm)))
		}
	}
	return comms
}

// statField returns field i (0 is the state) after the command name of
// /proc/pid/stat, or "" if the process is gone.
func statField(pid, i int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if i >= len(f) {
		return ""
	}
	return f[i]
}
