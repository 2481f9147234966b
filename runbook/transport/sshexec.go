package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"golang.org/x/crypto/ssh"
)

// stopGrace is how long a cancelled command's session gets to close before
// the whole connection is closed to unblock it (a peer that never
// acknowledges the close would otherwise hang Wait forever).
const stopGrace = 5 * time.Second

// Exec runs cmd in a new session: the command line is built by shellLine,
// stdout and stderr are drained concurrently and split into lines, stdin is
// framed for the watchdog. Cancelling ctx sends SIGTERM and closes the
// session; the watchdog then kills the remote process group.
func (c *sshConn) Exec(ctx context.Context, cmd Command) (Result, error) {
	name := commandName(cmd)
	if _, err := commandProgram(cmd); err != nil {
		return Result{}, err
	}
	if err := c.acquire(ctx); err != nil {
		return Result{}, fmt.Errorf("run %s on %s: %w", name, c.cfg.Name, err)
	}
	defer func() { <-c.sessions }()

	sess, err := c.newSession(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("run %s on %s: %w", name, c.cfg.Name, err)
	}
	defer sess.Close()
	envOnLine, err := c.setenv(sess, cmd)
	if err != nil {
		return Result{}, fmt.Errorf("run %s on %s: %w", name, c.cfg.Name, err)
	}
	line, err := shellLine(cmd, envOnLine)
	if err != nil {
		return Result{}, err
	}
	stdin, err1 := sess.StdinPipe()
	stdout, err2 := sess.StdoutPipe()
	stderr, err3 := sess.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		return Result{}, fmt.Errorf("run %s on %s: open pipes: %w", name, c.cfg.Name, err)
	}
	if err := sess.Start(line); err != nil {
		return Result{}, c.sessionErr(err, "start %s on %s", name, c.cfg.Name)
	}

	p := startPumps(cmd, stdin, stdout, stderr)
	res := &p.res
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()

	select {
	case err = <-waited:
	case <-ctx.Done():
		c.stop(sess, waited)
		p.wait()
		return *res, fmt.Errorf("run %s on %s: %w", name, c.cfg.Name, ctx.Err())
	case rerr := <-p.stdinFailed:
		c.stop(sess, waited)
		p.wait()
		return *res, fmt.Errorf("run %s on %s: read stdin: %w", name, c.cfg.Name, rerr)
	}
	p.wait()
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitStatus()
	default:
		return *res, c.sessionErr(err, "connection lost while running %s on %s", name, c.cfg.Name)
	}
	if err := p.readErr(); err != nil {
		return *res, c.sessionErr(err, "read output of %s on %s", name, c.cfg.Name)
	}
	return *res, nil
}

// acquire takes one of the connection's session slots.
func (c *sshConn) acquire(ctx context.Context) error {
	select {
	case c.sessions <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.lost
	}
}

// newSession opens a session, bounded by the connect timeout: NewSession
// waits for the server's answer with no deadline, so on a peer that stopped
// answering it would hang. Past the timeout the connection is closed, which
// also fails every other call waiting on it.
//
// A refused open is retried for a while: sshd frees a closed session's slot
// only after it has processed the packets that arrived with the close, so
// an open right behind a close can meet "no more sessions" (MaxSessions)
// even though the client stays below it.
func (c *sshConn) newSession(ctx context.Context) (*ssh.Session, error) {
	deadline := time.Now().Add(c.cfg.ConnectTimeout)
	backoff := 10 * time.Millisecond
	for {
		s, err := c.openSession(ctx, time.Until(deadline))
		var refused *ssh.OpenChannelError
		if err == nil || !errors.As(err, &refused) || time.Now().Add(backoff).After(deadline) {
			return s, err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// openSession makes one attempt at opening a session, closing the
// connection if the server gives no answer within timeout.
func (c *sshConn) openSession(ctx context.Context, timeout time.Duration) (*ssh.Session, error) {
	if err := c.lostErr(); err != nil {
		return nil, err
	}
	type opened struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := c.client.NewSession()
		ch <- opened{s, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, c.sessionErr(o.err, "open session")
		}
		return o.s, nil
	case <-timer.C:
		c.end(unreachable(nil, "%s (%s) did not open a session within %s", c.cfg.Name, c.cfg.Addr, c.cfg.ConnectTimeout))
		return nil, c.lost
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.s != nil {
				o.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// setenv passes cmd.Env with setenv requests when the server accepts them
// (sshd's AcceptEnv), which keeps values out of the remote process list. It
// reports whether Env must go on the command line instead: under become
// (sudo resets the environment), or once the server refused a request.
func (c *sshConn) setenv(sess *ssh.Session, cmd Command) (bool, error) {
	if cmd.Become != "" || c.envRefused.Load() || len(cmd.Env) == 0 {
		return true, nil
	}
	names := make([]string, 0, len(cmd.Env))
	for k := range cmd.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !validEnvName(k) {
			return false, fmt.Errorf("build command: invalid environment variable name %q", k)
		}
		if err := sess.Setenv(k, cmd.Env[k]); err != nil {
			if lost := c.lostErr(); lost != nil {
				return false, lost
			}
			c.envRefused.Store(true)
			return true, nil
		}
	}
	return false, nil
}

// stop ends a running session: SIGTERM first (reaches the command unless
// sudo is in between), then close the channel, which makes the watchdog
// kill the command. If the session does not end within stopGrace the
// connection is closed.
func (c *sshConn) stop(sess *ssh.Session, waited <-chan error) {
	go sess.Signal(ssh.SIGTERM)
	sess.Close()
	select {
	case <-waited:
	case <-time.After(stopGrace):
		c.end(unreachable(nil, "%s (%s) did not close a cancelled session within %s", c.cfg.Name, c.cfg.Addr, stopGrace))
	}
}

// sessionErr wraps err from a session: if the connection has ended, the
// error says why and matches ErrUnreachable; so does a session that ended
// without an exit status (the peer went away mid-command: the outcome is
// unknown, never a success).
func (c *sshConn) sessionErr(err error, format string, args ...any) error {
	if lost := c.lostErr(); lost != nil && lost != errClosed {
		return unreachable(lost, format, args...)
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) || errors.Is(err, io.EOF) {
		return unreachable(err, format, args...)
	}
	msg := fmt.Sprintf(format, args...)
	return fmt.Errorf("%s: %w", msg, err)
}

// errReader remembers the error of the reader it wraps, so a failure to
// read the caller's stdin can be told from a failure to write it.
type errReader struct {
	r   io.Reader
	err error
}

// Read reads from the wrapped reader, recording any error but EOF.
func (e *errReader) Read(p []byte) (int, error) {
	if e.r == nil {
		return 0, io.EOF
	}
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}
