package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// localConn runs commands on this machine with a shell, through the same
// command line as SSH (so become is `sudo -n -u` here too).
type localConn struct {
	// shell runs the command line, as a login shell does for sshd; tests
	// run the lines under bash too, a common login shell.
	shell string
}

// NewLocal returns a Conn to this machine. It is what tests and a run on
// the database host itself use; its behaviour (shell line, become, output
// lines, cancellation, atomic upload) matches the SSH transport.
func NewLocal() Conn { return localConn{shell: "/bin/sh"} }

// Exec runs cmd with the shell (/bin/sh) in its own process group. Cancelling ctx
// closes the watchdog's stdin (which kills the command, whichever user it
// runs as) and signals the group: SIGTERM, then SIGKILL after stopGrace.
func (c localConn) Exec(ctx context.Context, cmd Command) (Result, error) {
	name := commandName(cmd)
	// Without become, Env goes into the process's environment, never on
	// its command line, where other users could read it; sudo resets the
	// environment, so under become it must go on the line.
	inEnv := cmd.Become == "" && len(cmd.Env) > 0
	line, err := shellLine(cmd, !inEnv)
	if err != nil {
		return Result{}, err
	}
	proc := exec.Command(c.shell, "-c", line)
	if inEnv {
		proc.Env = os.Environ()
		for k, v := range cmd.Env {
			proc.Env = append(proc.Env, k+"="+v)
		}
	}
	proc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err1 := proc.StdinPipe()
	stdout, err2 := proc.StdoutPipe()
	stderr, err3 := proc.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		return Result{}, fmt.Errorf("run %s locally: open pipes: %w", name, err)
	}
	if err := proc.Start(); err != nil {
		return Result{}, fmt.Errorf("run %s locally: %w", name, err)
	}

	p := startPumps(cmd, stdin, stdout, stderr)
	drained := make(chan struct{})
	go func() { p.wait(); close(drained) }()

	var stopErr error
	select {
	case <-drained:
	case <-ctx.Done():
		stopErr = fmt.Errorf("run %s locally: %w", name, ctx.Err())
	case rerr := <-p.stdinFailed:
		stopErr = fmt.Errorf("run %s locally: read stdin: %w", name, rerr)
	}
	res := &p.res
	if stopErr != nil {
		stopGroup(proc.Process.Pid, stdin, drained)
		proc.Wait()
		return *res, stopErr
	}
	err = proc.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitCode(exitErr)
	default:
		return *res, fmt.Errorf("run %s locally: %w", name, err)
	}
	if err := p.readErr(); err != nil {
		return *res, fmt.Errorf("read output of %s locally: %w", name, err)
	}
	return *res, nil
}

// stopGroup stops the process group pgid: it closes the watchdog's stdin
// and sends SIGTERM, then SIGKILL if output has not ended within stopGrace.
func stopGroup(pgid int, stdin io.Closer, drained <-chan struct{}) {
	stdin.Close()
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-drained:
	case <-time.After(stopGrace):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-drained
	}
}

// exitCode returns the status of an exited process the way sh reports it:
// 128+N for death by signal N.
func exitCode(e *exec.ExitError) int {
	if ws, ok := e.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return e.ExitCode()
}

// Upload writes r to a temporary file next to dest, sets mode, closes it
// and renames it over dest.
func (localConn) Upload(ctx context.Context, r io.Reader, dest string, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(dest), filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("upload %s locally: %w", dest, err)
	}
	tmp := f.Name()
	_, err = io.Copy(f, &ctxReader{ctx: ctx, r: r})
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("upload %s locally: %w", dest, err)
	}
	return nil
}

// Dial opens a plain network connection from this machine.
func (localConn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s locally: %w", addr, err)
	}
	return conn, nil
}

// Close does nothing: there is no connection to end.
func (localConn) Close() error { return nil }
