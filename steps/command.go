package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// Command runs a program on the host. A command cannot know whether it
// changed anything, so a run always reports changed; creates and removes
// make it idempotent by skipping it when its work is evidently done.
//
//	command: "pg_ctlcluster 15 main status"          # the cmd shorthand
//	command: {argv: [pg_ctl, -D, /data, status], chdir: /tmp, env: {PGCONNECT_TIMEOUT: "5"}}
type Command struct {
	// Argv is the program and its arguments, run without a shell.
	Argv []string `yaml:"argv"`
	// Cmd is a shell line, run under `sh -c`.
	Cmd string `yaml:"cmd"`
	// Creates skips the command when this path exists on the host.
	Creates string `yaml:"creates"`
	// Removes skips the command when this path does not exist on the host.
	Removes string `yaml:"removes"`
	// Chdir is the working directory of the command.
	Chdir string `yaml:"chdir"`
	// Env is added to the command's environment.
	Env map[string]string `yaml:"env"`
	// Stdin, when set, is fed to the command's standard input.
	Stdin string `yaml:"stdin"`
	// Timeout bounds the step; a command still running then is killed
	// (default: none).
	Timeout Duration `yaml:"timeout"`
}

// Validate checks that exactly one of argv and cmd is given.
func (c *Command) Validate() error {
	switch {
	case len(c.Argv) > 0 && c.Cmd != "":
		return errors.New("argv and cmd are exclusive")
	case len(c.Argv) == 0 && strings.TrimSpace(c.Cmd) == "":
		return errors.New("one of argv or cmd is required")
	}
	return nil
}

// subject names the command in messages: its shell line or argv.
func (c *Command) subject() string {
	if c.Cmd != "" {
		return c.Cmd
	}
	return strings.Join(c.Argv, " ")
}

// Run checks creates and removes, then runs the command (under Check it
// only reports that it would), streaming its output through t.Output.
func (c *Command) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := c.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("command: %w", err)
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.Timeout))
		defer cancel()
	}
	if skip, why, err := c.skip(ctx, t); err != nil {
		return runbook.Outcome{}, err
	} else if skip {
		return runbook.Outcome{Skipped: true, Msg: why}, nil
	}
	if t.Check {
		return runbook.Outcome{Changed: true, Msg: "would run: " + c.subject()}, nil
	}
	cmd := transport.Command{Argv: c.Argv, Script: c.Cmd, Dir: c.Chdir, Env: c.Env}
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	if t.Output != nil {
		cmd.Stdout = func(line string) { t.Output("stdout", line) }
		cmd.Stderr = func(line string) { t.Output("stderr", line) }
	}
	res, err := run(ctx, t, cmd)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("command %s: %w", c.subject(), err)
	}
	out := runbook.Outcome{Changed: true, RC: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr}
	if res.ExitCode != 0 {
		out.Msg = fmt.Sprintf("exit status %d", res.ExitCode)
		return out, fmt.Errorf("command exited with status %d", res.ExitCode)
	}
	return out, nil
}

// skip decides from creates and removes whether the command's work is
// already done.
func (c *Command) skip(ctx context.Context, t *runbook.Target) (bool, string, error) {
	if c.Creates != "" {
		fi, err := statPath(ctx, t, c.Creates, false)
		if err != nil {
			return false, "", fmt.Errorf("command %s: stat %s: %w", c.subject(), c.Creates, err)
		}
		if fi.Exists {
			return true, c.Creates + " exists", nil
		}
	}
	if c.Removes != "" {
		fi, err := statPath(ctx, t, c.Removes, false)
		if err != nil {
			return false, "", fmt.Errorf("command %s: stat %s: %w", c.subject(), c.Removes, err)
		}
		if !fi.Exists {
			return true, c.Removes + " does not exist", nil
		}
	}
	return false, "", nil
}
