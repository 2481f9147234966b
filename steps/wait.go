package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// Wait waits until a command succeeds on the host or a TCP port accepts
// connections as seen from the host. It never changes the host, so it
// reports ok, or an error after the timeout.
//
//	wait: {port: 5432, timeout: 60s}
//	wait: {command: "pg_isready -h /var/run/postgresql", interval: 2s}
type Wait struct {
	// Command is a shell line that must exit 0.
	Command string `yaml:"command"`
	// Port is a TCP port that must accept a connection, dialled from the
	// host through its connection (so 127.0.0.1 is the host's loopback).
	Port int `yaml:"port"`
	// Host is the address the port is dialled on; default 127.0.0.1.
	Host string `yaml:"host"`
	// Timeout bounds the whole wait; default 60s.
	Timeout Duration `yaml:"timeout"`
	// Interval is the pause between attempts; default 1s.
	Interval Duration `yaml:"interval"`
}

// Validate checks that exactly one condition is given.
func (w *Wait) Validate() error {
	switch {
	case w.Command != "" && w.Port != 0:
		return errors.New("command and port are exclusive")
	case w.Command == "" && w.Port == 0:
		return errors.New("one of command or port is required")
	case w.Port < 0 || w.Port > 65535:
		return fmt.Errorf("port %d out of range", w.Port)
	case w.Host != "" && w.Port == 0:
		return errors.New("host goes with port")
	}
	return nil
}

// subject names what is waited for.
func (w *Wait) subject() string {
	if w.Command != "" {
		return "command " + w.Command
	}
	return "port " + w.addr()
}

func (w *Wait) addr() string {
	host := w.Host
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(w.Port))
}

// Run probes the condition until it holds or the timeout passes. Under
// Check it probes once and does not wait: waiting only makes sense after
// the steps before it really ran.
func (w *Wait) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := w.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("wait: %w", err)
	}
	timeout, interval := time.Duration(w.Timeout), time.Duration(w.Interval)
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if interval <= 0 {
		interval = time.Second
	}
	start := time.Now()
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	// last is what the last finished attempt said: an attempt the deadline
	// cut short says nothing about why the condition does not hold.
	last := "none finished before the deadline"
	for attempt := 1; ; attempt++ {
		detail, err := w.probe(ctx, t)
		if detail != interruptedDetail {
			last = detail
		}
		if err != nil && !errors.Is(err, errNotYet) {
			return runbook.Outcome{}, fmt.Errorf("wait for %s: %w", w.subject(), err)
		}
		if err == nil {
			return runbook.Outcome{Msg: fmt.Sprintf("%s ready after %d attempt(s), %s", w.subject(), attempt, time.Since(start).Round(time.Millisecond))}, nil
		}
		if t.Check {
			return runbook.Outcome{Msg: fmt.Sprintf("%s not ready yet (%s); check mode does not wait", w.subject(), detail)}, nil
		}
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			if err := parent.Err(); err != nil {
				return runbook.Outcome{}, fmt.Errorf("wait for %s: %w (last attempt: %s)", w.subject(), err, last)
			}
			return runbook.Outcome{}, fmt.Errorf("wait for %s: timed out after %s: last attempt: %s", w.subject(), timeout, last)
		case <-timer.C:
		}
	}
}

// dialTimeout bounds one connection attempt to a port.
const dialTimeout = 5 * time.Second

// interruptedDetail is a probe's detail when the deadline stopped it.
const interruptedDetail = "interrupted by the deadline"

// errNotYet marks a probe whose condition does not hold yet.
var errNotYet = errors.New("not yet")

// probe tries the condition once. It returns errNotYet with a detail of the
// failure when the condition does not hold, and other errors when waiting
// cannot help (the host is unreachable).
func (w *Wait) probe(ctx context.Context, t *runbook.Target) (string, error) {
	if w.Port != 0 {
		// A filtered port never answers; bound each attempt so that one
		// silent dial does not use up the whole timeout.
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		c, err := t.Conn.Dial(dctx, "tcp", w.addr())
		if err != nil {
			if transport.IsUnreachable(err) {
				return "", err
			}
			return err.Error(), errNotYet
		}
		_ = c.Close() // only the connect mattered
		return "", nil
	}
	res, err := run(ctx, t, transport.Command{Script: w.Command})
	if err != nil {
		if ctx.Err() != nil {
			return interruptedDetail, errNotYet
		}
		return "", err
	}
	if res.ExitCode == 0 {
		return "", nil
	}
	return fmt.Sprintf("exit status %d%s", res.ExitCode, lastLine(res.Stderr, res.Stdout)), errNotYet
}

// lastLine returns ": " and the last non-empty line of the first stream
// that has one, to show why a probe failed.
func lastLine(streams ...string) string {
	for _, s := range streams {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if i := strings.LastIndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		return ": " + s
	}
	return ""
}
