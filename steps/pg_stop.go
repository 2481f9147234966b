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

var _ runbook.Validator = (*PgStop)(nil)

// PgStop leaves a data directory cleanly shut down, which a rewind and a
// restart as standby both need.
//
//	pg_stop: {pgdata: /var/lib/postgresql/15/main, mode: fast, timeout: 60s}
//
// A running server is stopped with `pg_ctl stop -m MODE -t TIMEOUT`; a smart
// stop that times out (clients still connected) is followed by a fast one.
// A data directory whose pg_control says "in production" (or any other
// unclean state) while no postmaster runs is a crashed node: it is brought
// to a clean state by single-user crash recovery, `postgres --single -F -D
// PGDATA template1 </dev/null`, which replays the local WAL on the current
// timeline and ends with a shutdown checkpoint. Unlike starting the server
// normally, that creates no new timeline and accepts no connection, so the
// node cannot take writes meanwhile. The step is ok when pg_control already
// says "shut down" or "shut down in recovery" and no postmaster runs.
type PgStop struct {
	// PGData is the data directory.
	PGData string `yaml:"pgdata"`
	// Mode is pg_ctl's shutdown mode: smart, fast (default) or immediate.
	// After an immediate stop the node is crash-recovered as above, so the
	// step still ends cleanly shut down.
	Mode string `yaml:"mode"`
	// Timeout bounds each pg_ctl stop and the crash recovery (default 60s).
	// It is passed to pg_ctl explicitly so that pg_ctl's own 60 s default
	// never decides.
	Timeout Duration `yaml:"timeout"`
	// BinDir holds pg_ctl and postgres; default
	// /usr/lib/postgresql/<PG_VERSION>/bin.
	BinDir string `yaml:"bin_dir"`
	// ConfigFile is postgresql.conf's path when it is not in PGDATA
	// (Debian's /etc/postgresql layout); single-user mode needs it.
	ConfigFile string `yaml:"config_file"`
}

// asideSuffix is appended to signal files moved out of the way for
// single-user crash recovery.
const asideSuffix = ".pgrunbook-aside"

// Validate checks pgdata and the mode.
func (s *PgStop) Validate() error {
	if s.PGData == "" {
		return errors.New("pgdata is required")
	}
	switch s.Mode {
	case "", "smart", "fast", "immediate":
		return nil
	}
	return fmt.Errorf("%s: mode %q must be smart, fast or immediate", s.PGData, s.Mode)
}

func (s *PgStop) mode() string {
	if s.Mode == "" {
		return "fast"
	}
	return s.Mode
}

func (s *PgStop) timeout() time.Duration {
	if s.Timeout <= 0 {
		return 60 * time.Second
	}
	return time.Duration(s.Timeout)
}

// Run inspects the data directory and stops or crash-recovers it as needed.
func (s *PgStop) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_stop: %w", err)
	}
	d, err := pgVersion(ctx, t, s.PGData, s.BinDir)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_stop: %w", err)
	}
	var done []string
	restored, err := s.restoreAside(ctx, t, d)
	if err != nil {
		return runbook.Outcome{}, err
	}
	if len(restored) > 0 {
		done = append(done, "put back "+strings.Join(restored, ", ")+" left aside by an interrupted crash recovery")
	}
	running, err := d.running(ctx, t)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_stop %s: %w", s.PGData, err)
	}
	if running {
		if t.Check {
			return runbook.Outcome{Changed: true, Msg: "would stop the running server (" + s.mode() + ")"}, nil
		}
		msg, err := s.stop(ctx, t, d)
		if err != nil {
			return runbook.Outcome{}, err
		}
		done = append(done, msg)
	}
	st, err := d.state(ctx, t)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("pg_stop %s: %w", s.PGData, err)
	}
	if !st.cleanlyShutDown() {
		if t.Check {
			done = append(done, fmt.Sprintf("would run single-user crash recovery (pg_control says %q, no postmaster runs)", st.State))
			return runbook.Outcome{Changed: true, Msg: strings.Join(done, "; ")}, nil
		}
		msg, err := s.crashRecover(ctx, t, d, st)
		if err != nil {
			return runbook.Outcome{}, err
		}
		done = append(done, msg)
	}
	if len(done) == 0 {
		return runbook.Outcome{Msg: "already " + st.State + ", no postmaster running"}, nil
	}
	return runbook.Outcome{Changed: true, Msg: strings.Join(done, "; ")}, nil
}

// stop runs pg_ctl stop in the wanted mode; a smart stop that fails (it
// waits for every client to leave) is retried as fast.
func (s *PgStop) stop(ctx context.Context, t *runbook.Target, d *dataDir) (string, error) {
	res, err := s.pgCtlStop(ctx, t, d, s.mode())
	if err != nil {
		return "", err
	}
	if res.ExitCode == 0 {
		return "stopped (" + s.mode() + ")", nil
	}
	if s.mode() == "smart" {
		fast, err := s.pgCtlStop(ctx, t, d, "fast")
		if err != nil {
			return "", err
		}
		if fast.ExitCode == 0 {
			return "smart stop did not finish within " + s.timeout().String() + "; stopped (fast)", nil
		}
		res = fast
	}
	return "", fmt.Errorf("pg_stop %s: pg_ctl stop: %w; check the server log, or try mode: immediate", s.PGData, failure(res))
}

func (s *PgStop) pgCtlStop(ctx context.Context, t *runbook.Target, d *dataDir, mode string) (transport.Result, error) {
	secs := strconv.Itoa(int((s.timeout() + time.Second - 1) / time.Second))
	argv := []string{d.bin("pg_ctl"), "stop", "-D", d.Path, "-m", mode, "-w", "-t", secs}
	res, err := run(ctx, t, transport.Command{Argv: argv, Stdout: output(t, "stdout"), Stderr: output(t, "stderr")})
	if err != nil {
		return res, fmt.Errorf("pg_stop %s: pg_ctl stop -m %s: %w", s.PGData, mode, err)
	}
	return res, nil
}

// crashRecover runs single-user crash recovery. The signal files
// (standby.signal and recovery.signal from 12 on, recovery.conf before) are
// moved aside for it and put back afterwards: with standby.signal a
// single-user server refuses to start ("standby mode is not supported by
// single-user servers"), and with recovery.signal it would run archive
// recovery and end it by promoting to a new timeline, which would make the
// node diverge further from the new primary. Without them it is plain crash
// recovery: WAL replayed on the current timeline, then a shutdown
// checkpoint. When the node ran with wal_level replica or higher,
// archive_mode=on with archive_command=false keeps the shutdown checkpoint
// from recycling WAL that was never archived, which a rewind may need.
func (s *PgStop) crashRecover(ctx context.Context, t *runbook.Target, d *dataDir, before clusterState) (msg string, err error) {
	moved, err := s.moveAside(ctx, t, d)
	if err != nil {
		// Some files may have moved before the failure: put them back.
		_, rerr := s.restoreAside(context.WithoutCancel(ctx), t, d)
		return "", errors.Join(err, rerr)
	}
	defer func() {
		if len(moved) == 0 {
			return
		}
		if _, rerr := s.restoreAside(context.WithoutCancel(ctx), t, d); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	argv := []string{d.bin("postgres"), "--single", "-F", "-D", d.Path}
	if s.ConfigFile != "" {
		argv = append(argv, "-c", "config_file="+s.ConfigFile)
	}
	if !before.WalMinimal {
		argv = append(argv, "-c", "archive_mode=on", "-c", "archive_command=false")
	}
	argv = append(argv, "template1")
	rctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	prog := append([]string{"sh", "-c", `exec "$@" </dev/null`, "pgrunbook"}, argv...)
	res, err := run(rctx, t, transport.Command{Argv: prog, Stdout: output(t, "stdout"), Stderr: output(t, "stderr")})
	if err != nil {
		return "", fmt.Errorf("pg_stop %s: single-user crash recovery: %w", s.PGData, err)
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("pg_stop %s: single-user crash recovery (postgres --single) failed: %w; the data directory is still not cleanly shut down", s.PGData, failure(res))
	}
	after, err := d.state(ctx, t)
	if err != nil {
		return "", fmt.Errorf("pg_stop %s: after crash recovery: %w", s.PGData, err)
	}
	if !after.cleanlyShutDown() {
		return "", fmt.Errorf("pg_stop %s: after single-user crash recovery pg_control says %q, not shut down", s.PGData, after.State)
	}
	if after.Timeline != before.Timeline {
		return "", fmt.Errorf("pg_stop %s: crash recovery moved the timeline from %d to %d", s.PGData, before.Timeline, after.Timeline)
	}
	msg = fmt.Sprintf("crash-recovered in single-user mode (pg_control said %q; now %q on timeline %d)", before.State, after.State, after.Timeline)
	if len(moved) > 0 {
		msg += "; " + strings.Join(moved, ", ") + " moved aside for it and put back"
	}
	return msg, nil
}

const moveAsideScript = `set -e
cd "$1"; shift
for f in "$@"; do
  if [ -e "$f" ]; then mv -- "$f" "$f` + asideSuffix + `"; echo "$f"; fi
done`

// moveAside renames the signal files that exist and names them.
func (s *PgStop) moveAside(ctx context.Context, t *runbook.Target, d *dataDir) ([]string, error) {
	res, err := script(ctx, t, moveAsideScript, append([]string{d.Path}, d.signalFiles()...)...)
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	moved := strings.Fields(res.Stdout)
	if err != nil {
		return moved, fmt.Errorf("pg_stop %s: move signal files aside: %w", s.PGData, err)
	}
	return moved, nil
}

const restoreAsideScript = `set -e
cd "$1"; shift
for f in "$@"; do
  if [ -e "$f` + asideSuffix + `" ] && [ ! -e "$f" ]; then mv -- "$f` + asideSuffix + `" "$f"; echo "$f"; fi
done`

// restoreAside puts back signal files moved aside by a crash recovery,
// including one that was interrupted in an earlier run, so a standby never
// silently stops being one. Under Check it changes nothing.
func (s *PgStop) restoreAside(ctx context.Context, t *runbook.Target, d *dataDir) ([]string, error) {
	if t.Check {
		return nil, nil
	}
	res, err := script(ctx, t, restoreAsideScript, append([]string{d.Path}, d.signalFiles()...)...)
	if err == nil && res.ExitCode != 0 {
		err = failure(res)
	}
	if err != nil {
		return nil, fmt.Errorf("pg_stop %s: put signal files back (rename *%s by hand): %w", s.PGData, asideSuffix, err)
	}
	return strings.Fields(res.Stdout), nil
}

// output returns a line sink for the step's live output, or nil.
func output(t *runbook.Target, stream string) func(string) {
	if t.Output == nil {
		return nil
	}
	return func(line string) { t.Output(stream, line) }
}
