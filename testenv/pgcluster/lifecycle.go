package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// StopMode is pg_ctl's shutdown mode.
type StopMode string

// The three shutdown modes of pg_ctl stop.
const (
	// StopSmart waits for clients to disconnect.
	StopSmart StopMode = "smart"
	// StopFast disconnects clients and shuts down cleanly.
	StopFast StopMode = "fast"
	// StopImmediate quits without a shutdown checkpoint, like a crash:
	// the next start (or pg_rewind) runs crash recovery.
	StopImmediate StopMode = "immediate"
)

// Stop stops the server with mode and waits until it is gone.
func (c *Cluster) Stop(ctx context.Context, mode StopMode) error {
	_, err := c.run(ctx, c.Bin("pg_ctl"), "stop", "-D", c.DataDir, "-m", string(mode), "-w", "-t", startTimeout)
	if err != nil {
		return fmt.Errorf("stop %s (%s): %w%s", c.Name, mode, err, c.logTail())
	}
	return nil
}

// Restart stops the server cleanly (fast) and starts it again.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.Stop(ctx, StopFast); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Reload makes the server re-read its configuration files.
func (c *Cluster) Reload(ctx context.Context) error {
	if _, err := c.run(ctx, c.Bin("pg_ctl"), "reload", "-D", c.DataDir); err != nil {
		return fmt.Errorf("reload %s: %w", c.Name, err)
	}
	return nil
}

// Running reports whether a server is running on this data directory,
// according to pg_ctl status.
func (c *Cluster) Running(ctx context.Context) (bool, error) {
	cmd, err := c.Command(ctx, c.Bin("pg_ctl"), "status", "-D", c.DataDir)
	if err != nil {
		return false, err
	}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee) && (ee.ExitCode() == 3 || ee.ExitCode() == 4):
		// 3: not running; 4: no data directory.
		return false, nil
	default:
		return false, fmt.Errorf("status of %s: %w", c.Name, err)
	}
}

// Promote promotes a standby and waits until it is out of recovery and
// accepts writes.
func (c *Cluster) Promote(ctx context.Context) error {
	if _, err := c.run(ctx, c.Bin("pg_ctl"), "promote", "-D", c.DataDir, "-w", "-t", startTimeout); err != nil {
		return fmt.Errorf("promote %s: %w%s", c.Name, err, c.logTail())
	}
	return c.poll(ctx, "promote "+c.Name, func(ctx context.Context) (bool, error) {
		v, err := c.QueryValue(ctx, "postgres", "SELECT NOT pg_is_in_recovery()")
		return v == "t", err
	})
}

// Checkpoint runs CHECKPOINT (a restartpoint on a standby).
func (c *Cluster) Checkpoint(ctx context.Context) error {
	return c.Exec(ctx, "postgres", "CHECKPOINT")
}

// Destroy stops the server (immediate, if it runs) and removes the
// cluster's directories. It is meant for t.Cleanup, so it keeps going after
// an error and reports all of them.
func (c *Cluster) Destroy(ctx context.Context) error {
	var errs []error
	if running, err := c.Running(ctx); err != nil {
		errs = append(errs, err)
	} else if running {
		errs = append(errs, c.Stop(ctx, StopImmediate))
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", c.Dir, err))
	}
	if c.ownedSocket != "" {
		if err := os.RemoveAll(c.ownedSocket); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.ownedSocket, err))
		}
	}
	return errors.Join(errs...)
}

// pollInterval is how often waits re-check their condition.
const pollInterval = 50 * time.Millisecond

// DefaultWait bounds waits whose context has no deadline.
const DefaultWait = 3 * time.Minute

// poll calls check until it reports true, the context ends, or DefaultWait
// passes; the last check error is kept for the failure message.
func (c *Cluster) poll(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWait)
		defer cancel()
	}
	var last error
	for {
		ok, err := check(ctx)
		if ok && err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%s: %w (last error: %v)%s", what, ctx.Err(), last, c.logTail())
			}
			return fmt.Errorf("%s: %w%s", what, ctx.Err(), c.logTail())
		case <-time.After(pollInterval):
		}
	}
}

// logTailLines is how much of the server log an error carries.
const logTailLines = 30

// logTail returns the end of the server log, formatted to follow an error.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.LogFile)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return "\n--- tail of " + c.LogFile + " ---\n" + strings.Join(lines, "\n")
}
