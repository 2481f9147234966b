package rewindbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// streamServer is a running `pgrunbook rewind-serve` on the new primary's
// data directory, as the rewind step starts it on a real source: as the
// database OS user, its token in a file only that user reads.
type streamServer struct {
	cmd *exec.Cmd
	// addr is where it listens (127.0.0.1:PORT).
	addr string
	// tokenFile holds its token for --source-stream-token-file.
	tokenFile string
	stderr    bytes.Buffer
	done      chan error
	// stopped and stopErr make stop idempotent.
	stopped bool
	stopErr error
}

// streamReadyTimeout bounds the wait for the server's ready line.
const streamReadyTimeout = 30 * time.Second

// startStreamServer starts rewind-serve on the new primary and writes its
// token to dir/stream.token (0600, owned by postgres).
func (p *pair) startStreamServer(ctx context.Context, dir string) (*streamServer, error) {
	cmd, err := pgcluster.Command(ctx, p.pgrunbook, "rewind-serve", "-D", p.newPrimary.DataDir, "--listen", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &streamServer{cmd: cmd, tokenFile: filepath.Join(dir, "stream.token"), done: make(chan error, 1)}
	cmd.Stderr = &s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start rewind-serve: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rewind-serve: %w", err)
	}
	lines := make(chan string, 1)
	go func() {
		rd := bufio.NewReader(stdout)
		line, _ := rd.ReadString('\n')
		lines <- line
		// Nothing else is due on stdout; drain it so the server never
		// blocks on a full pipe.
		_, _ = io.Copy(io.Discard, rd)
		s.done <- cmd.Wait()
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(streamReadyTimeout):
		_ = cmd.Process.Kill()
		<-s.done
		return nil, fmt.Errorf("start rewind-serve: no ready line after %s\n%s", streamReadyTimeout, tailBytes(s.stderr.Bytes(), 2000))
	}
	ready, err := parseReady(line)
	if err != nil {
		_ = cmd.Process.Kill()
		<-s.done
		return nil, fmt.Errorf("start rewind-serve: %w\n%s", err, tailBytes(s.stderr.Bytes(), 2000))
	}
	s.addr = ready.Listen
	if err := writeToken(s.tokenFile, ready.Token); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends the server with SIGTERM, which it answers by exiting 0; a
// second call returns what the first did.
func (s *streamServer) stop() error {
	if !s.stopped {
		s.stopped = true
		s.stopErr = s.terminate()
	}
	return s.stopErr
}

// cpu is the server's user and system time, once stopped: the
// compression the stream costs on the source.
func (s *streamServer) cpu() time.Duration {
	if s.cmd.ProcessState == nil {
		return 0
	}
	return s.cmd.ProcessState.UserTime() + s.cmd.ProcessState.SystemTime()
}

func (s *streamServer) terminate() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop rewind-serve: %w", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("stop rewind-serve: %w\n%s", err, tailBytes(s.stderr.Bytes(), 2000))
		}
		return nil
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("stop rewind-serve: still running 10s after SIGTERM\n%s", tailBytes(s.stderr.Bytes(), 2000))
	}
}

// readyLine is rewind-serve's one line on stdout.
type readyLine struct {
	Listen string `json:"listen"`
	Token  string `json:"token"`
}

var tokenForm = regexp.MustCompile(`^[0-9a-f]{64}$`)

// parseReady reads rewind-serve's ready line; errors never quote the
// token.
func parseReady(line string) (readyLine, error) {
	var r readyLine
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return readyLine{}, fmt.Errorf("read rewind-serve ready line: %w", err)
	}
	if _, _, err := net.SplitHostPort(r.Listen); err != nil {
		return readyLine{}, fmt.Errorf("read rewind-serve ready line: listen %q: %w", r.Listen, err)
	}
	if !tokenForm.MatchString(r.Token) {
		return readyLine{}, fmt.Errorf("read rewind-serve ready line: the token is not 64 lowercase hex characters (%d characters)", len(r.Token))
	}
	return r, nil
}

// writeToken writes token to path for the engine, which runs as postgres:
// 0600 and owned by postgres, like the file the rewind step leaves on the
// old primary.
func writeToken(path, token string) error {
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("write stream token file %s: %w", path, err)
	}
	return pgcluster.HandOver(path)
}
