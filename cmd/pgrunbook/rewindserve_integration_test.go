package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/source/stream"
)

// readyLinePattern is the contract's ready line, exactly.
var readyLinePattern = regexp.MustCompile(`^\{"listen":"127\.0\.0\.1:[0-9]+","token":"[0-9a-f]{64}"\}$`)

// servedDir is a PGDATA with what rewind-serve reads at start and a file
// to fetch.
func servedDir(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	ctl := make([]byte, 8192)
	binary.NativeEndian.PutUint64(ctl, 7300000000000000042)
	data := bytes.Repeat([]byte("a compressible relation page "), 10000)
	for rel, b := range map[string][]byte{"global/pg_control": ctl, "base/5/16384": data,
		"postmaster.pid": []byte("1\n" + dir + "\n1764200000\n5432\n/tmp\n*\n1 2\nready\n")} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, data
}

// startServe runs the binary's rewind-serve and reads its ready line.
func startServe(t *testing.T, bin string, args ...string) (*exec.Cmd, readyLine, *bytes.Buffer, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"rewind-serve"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatalf("no ready line: %v\n%s", sc.Err(), stderr.String())
	}
	if !readyLinePattern.MatchString(sc.Text()) {
		t.Fatalf("ready line %q does not match %s", sc.Text(), readyLinePattern)
	}
	var ready readyLine
	if err := json.Unmarshal(sc.Bytes(), &ready); err != nil {
		t.Fatal(err)
	}
	return cmd, ready, &stderr, sc
}

// waitExit waits for the server and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("rewind-serve did not exit within %s", within)
		return -1
	}
}

// TestRewindServeBinary runs the built binary: the ready line, a fetch with
// the printed token, a refused token, the idle exit and the SIGTERM exit
// (both 0, nothing more on stdout), and its usage errors.
func TestRewindServeBinary(t *testing.T) {
	t.Parallel()
	bin := rejoinEngine(t)
	dir, data := servedDir(t)
	ctx := context.Background()

	cmd, ready, stderr, sc := startServe(t, bin, "-D", dir, "--idle-timeout", "1s")
	token, err := stream.ParseToken(ready.Token)
	if err != nil {
		t.Fatal(err)
	}
	// Compression forced: on loopback auto would send the frames raw.
	c := stream.NewClient(ready.Listen, token, stream.ClientOptions{Compress: stream.CompressAlways})
	id, err := c.Identity(ctx)
	if err != nil || id.SystemIdentifier != 7300000000000000042 || id.Port != 5432 {
		t.Fatalf("identity %+v, %v", id, err)
	}
	var got []byte
	err = c.Fetch(ctx, []source.Range{{Path: "base/5/16384", Length: int64(len(data)), Whole: true}},
		func(_ string, off int64, b []byte, _ bool) error {
			got = append(got[:off], b...)
			return nil
		})
	if err != nil || !bytes.Equal(got, data) || c.Transferred() >= int64(len(data))/10 {
		t.Fatalf("fetch: %v, %d bytes of %d, %d on the wire", err, len(got), len(data), c.Transferred())
	}
	bad := bytes.Clone(token)
	bad[5] ^= 0x40
	if _, err := stream.NewClient(ready.Listen, bad, stream.ClientOptions{}).Identity(ctx); !errors.Is(err, stream.ErrTokenRefused) {
		t.Fatalf("a wrong token: %v", err)
	}
	start := time.Now()
	if code := waitExit(t, cmd, 20*time.Second); code != 0 {
		t.Fatalf("idle exit code %d\n%s", code, stderr)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("exited %s after the last connection, before --idle-timeout 1s", d)
	}
	if sc.Scan() {
		t.Fatalf("more than the ready line on stdout: %q", sc.Text())
	}
	if !strings.Contains(stderr.String(), "wrong token") || strings.Contains(stderr.String(), ready.Token) {
		t.Fatalf("stderr should log the refused token, never the token:\n%s", stderr)
	}

	cmd, _, stderr, _ = startServe(t, bin, "--pgdata", dir)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, 20*time.Second); code != 0 {
		t.Fatalf("SIGTERM exit code %d\n%s", code, stderr)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "pgrunbook: rewind-serve: no data directory (-D PGDATA)"},
		{[]string{"-D", filepath.Join(dir, "nothing")}, 1, "pgrunbook: rewind-serve: read pg_control " + filepath.Join(dir, "nothing")},
		{[]string{"-D", dir, "--listen", "127.0.0.1:99999"}, 1, "pgrunbook: rewind-serve: listen on 127.0.0.1:99999"},
	} {
		out, err := exec.Command(bin, append([]string{"rewind-serve"}, tc.args...)...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("rewind-serve %q: %v, want exit %d and %q:\n%s", tc.args, err, tc.code, tc.want, out)
		}
	}
}
