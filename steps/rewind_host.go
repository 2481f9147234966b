package steps

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// divergedLine is pg_rewind's announcement of the divergence point: "WAL
// location" from 10 on, "WAL position" in 9.5 and 9.6.
var divergedLine = regexp.MustCompile(`servers diverged at WAL (?:location|position) ([0-9A-Fa-f]+/[0-9A-Fa-f]+) on timeline (\d+)`)

// parseDryRun reads the need-check out of `pg_rewind -n` output: whether a
// rewind is needed and, if known, the divergence as a report fragment.
func parseDryRun(output string) (map[string]any, error) {
	rep := map[string]any{"engine": "pg_rewind", "dry_run": true}
	if m := divergedLine.FindStringSubmatch(output); m != nil {
		rep["divergence"] = map[string]any{"lsn": m[1], "timeline": m[2]}
	}
	switch {
	case strings.Contains(output, "no rewind required"):
		rep["rewind_needed"] = false
	case rep["divergence"] != nil:
		rep["rewind_needed"] = true
	default:
		return nil, fmt.Errorf("pg_rewind -n said neither \"no rewind required\" nor where the servers diverged")
	}
	return rep, nil
}

// runHostOnly is the rewind with the host's pg_rewind for a major version
// the engine cannot read (its need-check refuses it): the need-check is
// then `pg_rewind -n`, which reads the source's files without writing
// anything, the only inspection pg_rewind offers.
func (s *Rewind) runHostOnly(ctx context.Context, t *runbook.Target, e *remoteEngine, d *dataDir) (runbook.Outcome, error) {
	args := append(s.commonArgs(), "-n")
	dry, runErr := e.runEngine(ctx, d.bin("pg_rewind"), args, s.SourceServer)
	if dry == nil {
		return runbook.Outcome{}, fmt.Errorf("rewind %s: decide whether a rewind is needed with pg_rewind -n: %w", s.PGData, redact(runErr, s.SourceServer, nil))
	}
	// A dry run that fails after naming the divergence (typically on WAL
	// that wal_stage has not staged yet, under --check) has answered the
	// question all the same.
	check, err := parseDryRun(dry.Result.Stdout + "\n" + dry.Result.Stderr)
	if err != nil || runErr != nil && check["rewind_needed"] != true {
		if runErr != nil {
			err = runErr
		}
		return runbook.Outcome{}, fmt.Errorf("rewind %s: decide whether a rewind is needed with pg_rewind -n: %w", s.PGData, redact(err, s.SourceServer, nil))
	}
	facts := map[string]any{"check": check, "command": strings.Join(dry.Argv, " ")}
	if runErr != nil {
		check["error"] = redact(runErr, s.SourceServer, nil).Error()
	}
	div := divergenceText(check)
	if check["rewind_needed"] == false {
		return runbook.Outcome{Msg: joinNonEmpty(div, "no rewind required"), Facts: facts}, nil
	}
	if t.Check {
		return s.checkOutcome(ctx, t, joinNonEmpty("would rewind", div), facts)
	}
	running, err := d.running(ctx, t)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("rewind %s: %w", s.PGData, err)
	}
	if running {
		return runbook.Outcome{}, fmt.Errorf("rewind %s: the server is running (%s): stop it cleanly first (pg_stop)", s.PGData, div)
	}
	started := time.Now()
	out, kept, err := s.runKeepingConfig(ctx, t, e, d.bin("pg_rewind"), s.pgRewindArgs())
	if out != nil {
		facts["command"] = strings.Join(out.Argv, " ")
	}
	if err != nil {
		return runbook.Outcome{Facts: facts}, fmt.Errorf("rewind %s: %w", s.PGData, redact(err, s.SourceServer, nil))
	}
	rep := map[string]any{"engine": "pg_rewind", "rewind_needed": true, "divergence": check["divergence"],
		"duration_ms": time.Since(started).Milliseconds()}
	if kept != nil {
		rep["kept_config"] = kept
	}
	return s.finish(t, rep, div, facts)
}
