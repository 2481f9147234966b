package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

var _ runbook.Validator = (*PgStart)(nil)

// PgStart starts the server of a data directory and waits until it accepts
// connections and, for a standby, is in recovery.
//
//	pg_start: {pgdata: /var/lib/postgresql/15/main, timeout: 60s}
//
// The step is ok when a postmaster already runs and answers. Otherwise it
// runs `pg_ctl start -w -t TIMEOUT -D PGDATA -l LOG_FILE [-o OPTIONS]`, then
// waits with pg_isready on the port and socket directory the server wrote
// into postmaster.pid (the values it really uses, -o overrides included)
// and asks `psql -At -c 'SELECT pg_is_in_recovery()'` over the unix socket,
// as the become user. A failure names pgdata and carries the log's tail.
type PgStart struct {
	// PGData is the data directory.
	PGData string `yaml:"pgdata"`
	// Timeout bounds pg_ctl start and the wait that follows (default 60s).
	Timeout Duration `yaml:"timeout"`
	// BinDir holds pg_ctl, pg_isready and psql; default
	// /usr/lib/postgresql/<PG_VERSION>/bin.
	BinDir string `yaml:"bin_dir"`
	// LogFile receives the server's output (pg_ctl -l); default
	// PGDATA/postmaster.log. It must be given: without it the server would
	// inherit pg_ctl's output channel and the step could never end.
	LogFile string `yaml:"log_file"`
	// Options are passed to the server with pg_ctl -o, e.g.
	// "-c config_file=/etc/postgresql/15/main/postgresql.conf".
	Options string `yaml:"options"`
	// Standby is whether the server must come up in recovery (default
	// true: pgrunbook starts rejoined nodes). False expects a primary.
	Standby *bool `yaml:"standby"`
	// Database is the database psql connects to for the recovery check
	// (default postgres).
	Database string `yaml:"database"`
}

// Validate checks that pgdata is given.
func (s *PgStart) Validate() error {
	if s.PGData == "" {
		return errors.New("pgdata is required")
	}
	return nil
}

func (s *PgStart) timeout() time.Duration {
	if s.Timeout <= 0 {
		return 60 * time.Second
	}
	return time.Duration(s.Timeout)
}

func (s *PgStart) standby() bool { return s.Standby == nil || *s.Standby }

func (s *PgStart) logFile(d *dataDir) string {
	if s.LogFile != "" {
		return s.LogFile
	}
	return d.file("postmaster.log")
}

// Run starts the server if it is not running and waits until it is usable.
func (s *PgStart) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_start: %w", err)
	}
	d, err := pgVersion(ctx, t, s.PGData, s.BinDir)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_start: %w", err)
	}
	running, err := d.running(ctx, t)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_start %s: %w", s.PGData, err)
	}
	out := runbook.Outcome{Msg: "already running"}
	if !running {
		if err := refuseInterruptedRewind(ctx, t, s.PGData); err != nil {
			return runbook.Outcome{}, err
		}
		if t.Check {
			return runbook.Outcome{Changed: true, Msg: "would start the server"}, nil
		}
		if err := s.start(ctx, t, d); err != nil {
			return runbook.Outcome{}, err
		}
		out = runbook.Outcome{Changed: true, Msg: "started"}
	}
	deadline, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	pid, err := s.waitReady(deadline, t, d)
	if err != nil {
		return out, fmt.Errorf("pg_start %s: %w%s", s.PGData, err, s.logTail(ctx, t, d))
	}
	inRecovery, err := s.inRecovery(deadline, t, d, pid)
	if err != nil {
		return out, fmt.Errorf("pg_start %s: %w%s", s.PGData, err, s.logTail(ctx, t, d))
	}
	switch {
	case s.standby() && !inRecovery:
		return out, fmt.Errorf("pg_start %s: the server runs but is not in recovery, so it is not a standby: standby.signal (or recovery.conf before 12) is missing; run the recovery step, then pg_stop and pg_start", s.PGData)
	case !s.standby() && inRecovery:
		return out, fmt.Errorf("pg_start %s: the server is in recovery, but standby: false expects a primary", s.PGData)
	}
	role := "primary"
	if inRecovery {
		role = "standby, in recovery"
	}
	out.Msg += fmt.Sprintf(", accepting connections on port %d (%s)", pid.Port, role)
	out.Facts = map[string]any{"port": pid.Port, "pid": pid.PID, "in_recovery": inRecovery}
	return out, nil
}

// start runs pg_ctl start and waits (-w) as long as the step's timeout.
func (s *PgStart) start(ctx context.Context, t *runbook.Target, d *dataDir) error {
	secs := strconv.Itoa(int((s.timeout() + time.Second - 1) / time.Second))
	argv := []string{d.bin("pg_ctl"), "start", "-w", "-t", secs, "-D", d.Path, "-l", s.logFile(d)}
	if s.Options != "" {
		argv = append(argv, "-o", s.Options)
	}
	res, err := run(ctx, t, transport.Command{Argv: argv, Stdout: output(t, "stdout"), Stderr: output(t, "stderr")})
	if err != nil {
		return fmt.Errorf("pg_start %s: pg_ctl start: %w", s.PGData, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("pg_start %s: pg_ctl start: %w%s", s.PGData, failure(res), s.logTail(ctx, t, d))
	}
	return nil
}

// waitReady polls postmaster.pid and pg_isready until the server accepts
// connections.
func (s *PgStart) waitReady(ctx context.Context, t *runbook.Target, d *dataDir) (*postmasterPID, error) {
	var last string
	for {
		pid, err := d.pidFile(ctx, t)
		if err != nil {
			return nil, err
		}
		if pid != nil && pid.Port != 0 {
			argv := []string{d.bin("pg_isready"), "-q", "-p", strconv.Itoa(pid.Port), "-t", "5"}
			if h := pid.host(); h != "" {
				argv = append(argv, "-h", h)
			}
			res, err := run(ctx, t, transport.Command{Argv: argv})
			if err == nil && res.ExitCode == 0 {
				return pid, nil
			}
			last = fmt.Sprintf("pg_isready on port %d exit status %d", pid.Port, res.ExitCode)
		} else {
			last = "no postmaster.pid"
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("server not accepting connections within %s (%s)", s.timeout(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// host is where local clients reach the server: its socket directory, or
// its listen address when it has no socket.
func (p *postmasterPID) host() string {
	if p.Socket != "" {
		return p.Socket
	}
	return p.Listen
}

// inRecovery asks the server whether it is in recovery, with psql as the
// become user; a standby may refuse connections a moment after pg_isready
// first said yes, so failures are retried until ctx ends.
func (s *PgStart) inRecovery(ctx context.Context, t *runbook.Target, d *dataDir, pid *postmasterPID) (bool, error) {
	db := s.Database
	if db == "" {
		db = "postgres"
	}
	argv := []string{d.bin("psql"), "-X", "-At", "-p", strconv.Itoa(pid.Port), "-d", db, "-c", "SELECT pg_is_in_recovery()"}
	if h := pid.host(); h != "" {
		argv = append(argv, "-h", h)
	}
	for {
		res, err := run(ctx, t, transport.Command{Argv: argv, Env: map[string]string{"PGCONNECT_TIMEOUT": "5"}})
		if err == nil && res.ExitCode == 0 {
			switch strings.TrimSpace(res.Stdout) {
			case "t":
				return true, nil
			case "f":
				return false, nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = failure(res)
			}
			return false, fmt.Errorf("ask pg_is_in_recovery() with psql: %w", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logTail returns the last lines of the server log, for errors.
func (s *PgStart) logTail(ctx context.Context, t *runbook.Target, d *dataDir) string {
	res, err := run(context.WithoutCancel(ctx), t, transport.Command{Argv: []string{"tail", "-n", "20", "--", s.logFile(d)}})
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) == "" {
		return ""
	}
	return "\nlast lines of " + s.logFile(d) + ":\n" + strings.TrimRight(res.Stdout, "\n")
}
