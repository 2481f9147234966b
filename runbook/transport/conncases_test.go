// Cases every Conn must pass, run by the local and the SSH tests alike.

package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// execCase is one command and what running it must give; it is shared by
// the local and the SSH tests, which must behave the same.
type execCase struct {
	name       string
	cmd        Command
	wantCode   int
	wantStdout string
	wantStderr string
	// stderrHas, when set, replaces the exact wantStderr check: the
	// shell's wording of some errors is not ours to fix.
	stderrHas string
}

func execCases() []execCase {
	return []execCase{
		{name: "true", cmd: Command{Argv: []string{"true"}}},
		{name: "exit code", cmd: Command{Script: "exit 3"}, wantCode: 3},
		{name: "not found", cmd: Command{Argv: []string{"/nonexistent/program"}}, wantCode: 127,
			stderrHas: "/nonexistent/program: not found"},
		{name: "argv quoting", cmd: Command{Argv: []string{"printf", "%s|%s|%s", "a b", "it's $HOME", ""}},
			wantStdout: "a b|it's $HOME|"},
		{name: "stdout and stderr", cmd: Command{Script: "echo out; echo err >&2; printf tail"},
			wantStdout: "out\ntail", wantStderr: "err\n"},
		{name: "stdin", cmd: Command{Argv: []string{"cat"}, Stdin: strings.NewReader("line 1\nline 2\n")},
			wantStdout: "line 1\nline 2\n"},
		{name: "stdin binary", cmd: Command{Argv: []string{"od", "-An", "-tx1"}, Stdin: bytes.NewReader([]byte{0, '\n', '0', '\n', 255})},
			wantStdout: " 00 0a 30 0a ff\n"},
		{name: "no stdin is empty", cmd: Command{Argv: []string{"wc", "-c"}}, wantStdout: "0\n"},
		{name: "env", cmd: Command{Script: `printf %s "$A|$B"`, Env: map[string]string{"A": "x y", "B": "it's"}},
			wantStdout: "x y|it's"},
		{name: "dir", cmd: Command{Argv: []string{"pwd"}, Dir: "/usr/lib"}, wantStdout: "/usr/lib\n"},
		{name: "become", cmd: Command{Argv: []string{"id", "-un"}, Become: "postgres"}, wantStdout: "postgres\n"},
		{name: "become dir defaults to root", cmd: Command{Argv: []string{"pwd"}, Become: "postgres"}, wantStdout: "/\n"},
		{name: "become dir", cmd: Command{Argv: []string{"pwd"}, Become: "postgres", Dir: "/usr/lib"}, wantStdout: "/usr/lib\n"},
		{name: "become env", cmd: Command{Script: `printf %s "$PGDATA"`, Become: "postgres", Env: map[string]string{"PGDATA": "/d"}},
			wantStdout: "/d"},
		{name: "become stdin", cmd: Command{Argv: []string{"cat"}, Become: "postgres", Stdin: strings.NewReader("x")},
			wantStdout: "x"},
		{name: "large output", cmd: Command{Script: "head -c 1000000 /dev/zero | tr '\\0' a; head -c 1000000 /dev/zero | tr '\\0' b >&2"},
			wantStdout: strings.Repeat("a", 1000000), wantStderr: strings.Repeat("b", 1000000)},
	}
}

// runExecCases runs every execCase on conn.
func runExecCases(t *testing.T, conn Conn) { runCases(t, conn, execCases()) }

// runCases runs cases on conn.
func runCases(t *testing.T, conn Conn, cases []execCase) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := conn.Exec(ctx, tt.cmd)
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if res.ExitCode != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", res.ExitCode, tt.wantCode, res.Stderr)
			}
			if res.Stdout != tt.wantStdout {
				t.Errorf("stdout %.200q, want %.200q", res.Stdout, tt.wantStdout)
			}
			if tt.stderrHas != "" {
				if !strings.Contains(res.Stderr, tt.stderrHas) {
					t.Errorf("stderr %q, want it to contain %q", res.Stderr, tt.stderrHas)
				}
			} else if res.Stderr != tt.wantStderr {
				t.Errorf("stderr %.200q, want %.200q", res.Stderr, tt.wantStderr)
			}
		})
	}
}

// testLiveLines checks that output lines reach the callbacks while the
// command is still running, not at its end: the command waits for a file
// that the test creates only once it has seen the first lines.
func testLiveLines(t *testing.T, conn Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := sharedTempDir(t, 0o777)
	gate := filepath.Join(dir, "gate")
	var mu sync.Mutex
	var outLines, errLines []string
	seen := make(chan struct{})
	var once sync.Once
	check := func() {
		if len(outLines) >= 1 && len(errLines) >= 1 {
			once.Do(func() { close(seen) })
		}
	}
	go func() {
		select {
		case <-seen:
			os.WriteFile(gate, nil, 0o644)
		case <-ctx.Done():
		}
	}()
	res, err := conn.Exec(ctx, Command{
		Script: "echo one; echo uno >&2; while [ ! -e " + Quote(gate) + " ]; do sleep 0.02; done; echo two; printf dos >&2",
		Stdout: func(l string) { mu.Lock(); outLines = append(outLines, l); check(); mu.Unlock() },
		Stderr: func(l string) { mu.Lock(); errLines = append(errLines, l); check(); mu.Unlock() },
	})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(outLines, ",") != "one,two" || strings.Join(errLines, ",") != "uno,dos" {
		t.Errorf("lines: stdout %q stderr %q, want [one two] [uno dos]", outLines, errLines)
	}
	if res.Stdout != "one\ntwo\n" || res.Stderr != "uno\ndos" {
		t.Errorf("result: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
}

// testCancelKills checks that cancelling ctx stops the command and kills
// the process on the host within a few seconds, with and without become,
// and also when the command ignores SIGTERM.
func testCancelKills(t *testing.T, conn Conn) {
	tests := []struct {
		name       string
		become     string
		ignoreTerm bool
		// stdin runs the command with Stdin, under the watchdog that
		// unframes it.
		stdin bool
	}{
		{"login user", "", false, false},
		{"become", "postgres", false, false},
		{"login user ignoring SIGTERM", "", true, false},
		{"become ignoring SIGTERM", "postgres", true, false},
		{"login user with stdin", "", false, true},
		{"become ignoring SIGTERM with stdin", "postgres", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arg := uniqueSleep()
			cmd := Command{Argv: []string{"sleep", arg}, Become: tt.become}
			if tt.ignoreTerm {
				cmd = Command{Script: "trap '' TERM; sleep " + arg, Become: tt.become}
			}
			if tt.stdin {
				cmd.Stdin = strings.NewReader("unread input\n")
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := conn.Exec(ctx, cmd)
				done <- err
			}()
			waitForProcess(t, arg, 10*time.Second)
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Exec after cancel: %v, want context.Canceled", err)
				}
				t.Logf("Exec returned %s after cancel", time.Since(start))
			case <-time.After(10 * time.Second):
				t.Fatal("Exec did not return within 10s of cancel")
			}
			waitForNoProcess(t, arg, 5*time.Second)
			t.Logf("cancelled and gone in %s", time.Since(start))
		})
	}
}

// testUploadAtomic uploads 5 MiB twice over the same destination while a
// reader keeps reading it: every read must see the old or the new content
// whole, never a partial file, and no temporary file may be left behind.
func testUploadAtomic(t *testing.T, conn Conn, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dest := filepath.Join(dir, "blob")
	first := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16)
	second := make([]byte, 5<<20)
	for i := range second {
		second[i] = byte(i * 7)
	}
	if err := conn.Upload(ctx, bytes.NewReader(first), dest, 0o640); err != nil {
		t.Fatalf("first Upload: %v", err)
	}
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	// The second upload starts once the reader has read once: a fast
	// upload could otherwise finish before the reader ran at all.
	reading := make(chan struct{})
	go func() {
		reads := 0
		for {
			select {
			case <-stop:
				if reads == 0 {
					readerDone <- errors.New("reader never read the file")
					return
				}
				readerDone <- nil
				return
			default:
			}
			got, err := os.ReadFile(dest)
			if err != nil {
				readerDone <- err
				return
			}
			reads++
			if reads == 1 {
				close(reading)
			}
			if !bytes.Equal(got, first) && !bytes.Equal(got, second) {
				readerDone <- errors.New("reader saw a partial or mixed file")
				return
			}
		}
	}()
	select {
	case <-reading:
	case err := <-readerDone:
		t.Fatalf("reader: %v", err)
	}
	err := conn.Upload(ctx, io.MultiReader(bytes.NewReader(second[:1<<20]), bytes.NewReader(second[1<<20:])), dest, 0o600)
	close(stop)
	if err != nil {
		t.Fatalf("second Upload: %v", err)
	}
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, second) {
		t.Fatalf("uploaded file differs: %d bytes, want %d", len(got), len(second))
	}
	st, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(dest + ".tmp-*")
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// testDial dials a TCP listener of this machine through conn.
func testDial(t *testing.T, conn Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := conn.Dial(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through Dial: %q, %v", buf, err)
	}
}

// sharedTempDir returns a new temporary directory with mode perm that
// other users (the SSH login user, postgres) can reach: t.TempDir makes it
// and its parent 0700.
func sharedTempDir(t testing.TB, perm os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireRoot skips tests that need root (sudo to postgres, sshd).
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs commands as postgres with sudo")
	}
}

// failingReader yields zeros, then fails.
type failingReader struct {
	after int
	read  int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.read >= f.after {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), f.after-f.read)
	clear(p[:n])
	f.read += n
	return n, nil
}
