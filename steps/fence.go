package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

var _ runbook.Validator = (*Fence)(nil)

// defaultFenceTimeout bounds a fence step without a timeout: it only
// inspects, so a minute is plenty, and a hung new primary must not hold the
// playbook before anything has changed.
const defaultFenceTimeout = time.Minute

// Fence is the safety rail a rejoin runs before it changes anything: it
// refuses to go on, with an error that says what to do, when the new
// primary is in recovery, when the old primary still accepts writes, when
// the two are not copies of one cluster, or when the new primary's
// timeline history does not contain the old primary's timeline. Then it
// reports the need-check's verdict: same timeline and nothing written past
// the new primary (no rewind), behind on the new primary's history (no
// rewind, it can follow), diverged (rewind), or same timeline but forked
// (refused: only a rebuild helps).
//
//	fence: {pgdata: /var/lib/postgresql/15/main, source_server: "host=10.77.0.12 user=rewind dbname=postgres"}
//
// It runs on the old primary's host. source_server is dialled from the
// bastion through the host's connection (as the sql step does); the
// need-check is the engine's `wal-stage --check-only`, shipped like the
// rewind step's. The step changes nothing, under --check or not: it is ok
// or it fails (under --check a running old primary is only noted, since
// the pg_stop before it did not stop it). Facts["rewind_needed"] carries
// the verdict.
type Fence struct {
	// PGData is the old primary's data directory.
	PGData string `yaml:"pgdata"`
	// SourceServer is the conninfo of the new primary; its role needs the
	// rewind role's grants (pg_read_binary_file) to read timeline history.
	SourceServer string `yaml:"source_server"`
	// OldPrimary, when set, is a conninfo by which clients reach the old
	// primary (a service address that may have moved): a server that
	// answers there and is not in recovery still accepts writes.
	OldPrimary string `yaml:"old_primary"`
	// BinDir holds the host's PostgreSQL binaries; default
	// /usr/lib/postgresql/<PG_VERSION>/bin.
	BinDir string `yaml:"bin_dir"`
	// ConfigFile is the target's postgresql.conf when outside PGDATA.
	ConfigFile string `yaml:"config_file"`
	// ArchiveDir or RestoreCommand (at most one) is where the need-check
	// reads target WAL that pg_wal no longer has (its latest checkpoint
	// recycled into the archive); it copies nothing into pg_wal.
	ArchiveDir     string `yaml:"archive_dir"`
	RestoreCommand string `yaml:"restore_command"`
	// EngineBinary is the bastion path of the pgrunbook binary to ship, as
	// for the rewind step.
	EngineBinary string `yaml:"engine_binary"`
	// Timeout bounds the whole step (default one minute).
	Timeout Duration `yaml:"timeout"`
}

// Validate checks the required parameters.
func (f *Fence) Validate() error {
	switch {
	case f.PGData == "":
		return errors.New("pgdata is required")
	case f.SourceServer == "":
		return errors.New("source_server is required (the new primary to check)")
	case f.ArchiveDir != "" && f.RestoreCommand != "":
		return errors.New("archive_dir and restore_command exclude each other")
	case f.Timeout < 0:
		return fmt.Errorf("timeout %s must not be negative", time.Duration(f.Timeout))
	}
	return nil
}

// Run checks the fence, then the need for a rewind.
func (f *Fence) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := f.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("fence: %w", err)
	}
	timeout := time.Duration(f.Timeout)
	if timeout == 0 {
		timeout = defaultFenceTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := f.run(ctx, t)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (the step's timeout is %s)", err, timeout)
	}
	if err != nil {
		return out, fmt.Errorf("fence %s: %w", f.PGData, redact(err, f.SourceServer, nil))
	}
	return out, nil
}

func (f *Fence) run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	d, err := pgVersion(ctx, t, f.PGData, f.BinDir)
	if err != nil {
		return runbook.Outcome{}, err
	}
	stopped, err := f.oldPrimaryStopped(ctx, t, d)
	if err != nil {
		return runbook.Outcome{}, err
	}
	src, err := inspectServer(ctx, t, f.SourceServer)
	if err != nil {
		return runbook.Outcome{}, err
	}
	if src.InRecovery {
		return runbook.Outcome{}, fmt.Errorf("the new primary %s is in recovery (a standby, on timeline %d): "+
			"promote it first, or point new_primary at the real primary", src.Subject, src.Timeline)
	}
	cf, err := d.control(ctx, t)
	if err != nil {
		return runbook.Outcome{}, err
	}
	if cf.SystemIdentifier != src.SystemIdentifier {
		return runbook.Outcome{}, fmt.Errorf("the old primary's system identifier %d differs from the new primary's %d (%s): "+
			"this is not a copy of the same cluster; rebuild it with pg_basebackup from the new primary",
			cf.SystemIdentifier, src.SystemIdentifier, src.Subject)
	}
	tgtTLI := uint32(cf.Timeline())
	if !src.hasTimeline(tgtTLI) {
		return runbook.Outcome{}, fmt.Errorf("the new primary's timeline history (%s) does not contain the old primary's "+
			"timeline %d: not a failover of this cluster from this node; point new_primary at the server this node "+
			"failed over to, or rebuild this node with pg_basebackup", src.historyText(), tgtTLI)
	}
	facts := map[string]any{
		"system_identifier": fmt.Sprint(src.SystemIdentifier),
		"source_timeline":   src.Timeline,
		"target_timeline":   tgtTLI,
	}
	e := newRemoteEngine(t, f.EngineBinary)
	args := []string{"wal-stage", "--check-only", "--target-pgdata=" + f.PGData}
	if f.ConfigFile != "" {
		args = append(args, "--config-file="+f.ConfigFile)
	}
	switch {
	case f.ArchiveDir != "":
		args = append(args, "--archive-dir="+f.ArchiveDir)
	case f.RestoreCommand != "":
		args = append(args, "--restore-command="+f.RestoreCommand)
	}
	check, err := e.runEngine(ctx, "", args, f.SourceServer)
	if err != nil {
		if src.Timeline == tgtTLI {
			return runbook.Outcome{Facts: facts}, fmt.Errorf("refused: both are on timeline %d but have diverged: %w", tgtTLI, err)
		}
		return runbook.Outcome{Facts: facts}, fmt.Errorf("decide whether a rewind is needed: %w", err)
	}
	facts["check"] = check.Report
	needed, _ := check.Report["rewind_needed"].(bool)
	facts["rewind_needed"] = needed
	return runbook.Outcome{Msg: fenceSummary(stopped, src, tgtTLI, needed, check.Report), Facts: facts}, nil
}

// oldPrimaryStopped refuses an old primary that could still take writes:
// a server running on the data directory, or one answering out of
// recovery at old_primary. Under --check a running server is only noted:
// the pg_stop step before the fence would have stopped it. It returns how
// the step's message describes the old primary.
func (f *Fence) oldPrimaryStopped(ctx context.Context, t *runbook.Target, d *dataDir) (string, error) {
	running, err := d.running(ctx, t)
	if err != nil {
		return "", err
	}
	state := "old primary stopped"
	switch {
	case running && t.Check:
		state = "old primary still running (a real run refuses unless pg_stop stopped it)"
	case running:
		return "", fmt.Errorf("the old primary is running on %s and may still accept writes: stop it and fence it "+
			"first (pg_stop), then rerun", f.PGData)
	}
	if f.OldPrimary == "" {
		return state, nil
	}
	old, err := inspectServer(ctx, t, f.OldPrimary)
	if err != nil {
		// Unreachable is what fenced means here.
		return state, nil
	}
	if !old.InRecovery {
		return "", fmt.Errorf("the old primary still accepts writes at %s (a server out of recovery answers there): "+
			"stop it and fence it first (pg_stop, or take the address away), then rerun", old.Subject)
	}
	return state, nil
}

// fenceSummary is the step's message: the fence held, and the verdict.
func fenceSummary(stopped string, src *serverInfo, tgtTLI uint32, needed bool, rep map[string]any) string {
	head := fmt.Sprintf("fenced: %s, new primary %s is a primary on timeline %d of the same system", stopped, src.Subject, src.Timeline)
	div := divergenceText(rep)
	end, _ := rep["target_end"].(string)
	var verdict string
	switch {
	case needed:
		verdict = "rewind needed: " + joinNonEmpty(div, whereEnds(end))
	case src.Timeline == tgtTLI:
		verdict = fmt.Sprintf("no rewind needed: same timeline %d and the old primary wrote nothing the new one lacks", tgtTLI)
	default:
		verdict = fmt.Sprintf("no rewind needed: the old primary (timeline %d) is behind on the new primary's history and can follow it", tgtTLI)
		if div != "" {
			verdict += " (" + joinNonEmpty(div, whereEnds(end)) + ")"
		}
	}
	return head + "; " + verdict
}

func whereEnds(end string) string {
	if end == "" {
		return ""
	}
	return "the old primary's WAL ends at " + strings.TrimSpace(end)
}
