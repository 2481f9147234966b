package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
)

var _ runbook.Validator = (*WALStage)(nil)

// WALStage puts into the target's pg_wal exactly the WAL segments a rewind
// of it will read, copied from the WAL archive, with the shipped engine
// (`pgrunbook wal-stage`) run as the become user. It fixes the seed's
// failure (the old primary's WAL from the last common checkpoint on was
// recycled into the archive) without copying the whole archive.
//
//	wal_stage: {pgdata: /var/lib/postgresql/15/main, archive_dir: /var/lib/postgresql/arch, source_server: "host=..."}
//
// The step is changed when it staged something and ok when nothing was
// missing (or no rewind is needed at all). Under --check the engine runs
// with -n: it fetches missing segments into a private temporary directory
// to read them, writes nothing into the data directory, and the step
// reports what it would stage.
type WALStage struct {
	// PGData is the data directory a rewind will rewind.
	PGData string `yaml:"pgdata"`
	// ArchiveDir is the WAL archive directory on the host; exactly one of
	// ArchiveDir and RestoreCommand is set.
	ArchiveDir string `yaml:"archive_dir"`
	// RestoreCommand fetches one file (%f, %p), as in postgresql.conf.
	RestoreCommand string `yaml:"restore_command"`
	// SourceServer is the conninfo of the new primary.
	SourceServer string `yaml:"source_server"`
	// ConfigFile is the target's postgresql.conf when outside PGDATA.
	ConfigFile string `yaml:"config_file"`
	// ReportDir, when set, is a directory on the bastion that keeps a copy
	// of every staging report.
	ReportDir string `yaml:"report_dir"`
	// EngineBinary is the bastion path of the pgrunbook binary to ship, as
	// for the rewind step.
	EngineBinary string `yaml:"engine_binary"`
	// Timeout bounds the whole step (default: none).
	Timeout Duration `yaml:"timeout"`
	// StallTimeout stops the engine when it prints no progress for that
	// long (default 2m).
	StallTimeout Duration `yaml:"stall_timeout"`
}

// Validate checks the required parameters.
func (s *WALStage) Validate() error {
	switch {
	case s.PGData == "":
		return errors.New("pgdata is required")
	case s.SourceServer == "":
		return errors.New("source_server is required (the divergence point comes from its timeline history)")
	case s.ArchiveDir == "" && s.RestoreCommand == "":
		return errors.New("one of archive_dir and restore_command is required")
	case s.ArchiveDir != "" && s.RestoreCommand != "":
		return errors.New("archive_dir and restore_command exclude each other")
	}
	return nil
}

// Run stages the missing WAL, or under Check lists it.
func (s *WALStage) Run(ctx context.Context, t *runbook.Target) (runbook.Outcome, error) {
	if err := s.Validate(); err != nil {
		return runbook.Outcome{}, fmt.Errorf("wal_stage: %w", err)
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s.Timeout))
		defer cancel()
	}
	if _, err := pgVersion(ctx, t, s.PGData, ""); err != nil {
		return runbook.Outcome{}, fmt.Errorf("wal_stage: %w", err)
	}
	e := newRemoteEngine(t, s.EngineBinary)
	e.stall = stallLimit(s.StallTimeout)
	out, err := e.runEngine(ctx, "", s.args(t.Check), s.SourceServer)
	if err != nil {
		return runbook.Outcome{}, fmt.Errorf("wal_stage %s: %w", s.PGData, redact(err, s.SourceServer, nil))
	}
	rep := out.Report
	facts := map[string]any{"report": rep, "command": strings.Join(out.Argv, " ")}
	staged := stagedNames(rep)
	msg := stageMessage(rep, staged, t.Check)
	if !t.Check {
		if p, err := keepReport(s.ReportDir, t, "wal_stage", rep); err != nil {
			return runbook.Outcome{Changed: len(staged) > 0, Msg: msg, Facts: facts}, fmt.Errorf("wal_stage %s: %w", s.PGData, err)
		} else if p != "" {
			facts["report_file"] = p
		}
	}
	return runbook.Outcome{Changed: len(staged) > 0, Msg: msg, Facts: facts}, nil
}

func (s *WALStage) args(check bool) []string {
	args := []string{"wal-stage", "--target-pgdata=" + s.PGData}
	if s.ArchiveDir != "" {
		args = append(args, "--archive-dir="+s.ArchiveDir)
	} else {
		args = append(args, "--restore-command="+s.RestoreCommand)
	}
	if s.ConfigFile != "" {
		args = append(args, "--config-file="+s.ConfigFile)
	}
	if check {
		args = append(args, "--dry-run")
	}
	return args
}

// stagedNames lists the staged files of a staging report.
func stagedNames(rep map[string]any) []string {
	list, _ := rep["staged"].([]any)
	var names []string
	for _, f := range list {
		if m, ok := f.(map[string]any); ok {
			names = append(names, fmt.Sprint(m["name"]))
		}
	}
	return names
}

// stageMessage is the step's one-line summary.
func stageMessage(rep map[string]any, staged []string, check bool) string {
	div := divergenceText(rep)
	if needed, _ := rep["rewind_needed"].(bool); !needed {
		return joinNonEmpty(div, "no rewind required, nothing to stage")
	}
	present, _ := rep["present"].([]any)
	if len(staged) == 0 {
		return joinNonEmpty(div, fmt.Sprintf("all %d needed WAL files already in place", len(present)))
	}
	verb := "staged"
	if check {
		verb = "would stage"
	}
	return joinNonEmpty(div, fmt.Sprintf("%s %d WAL files from the archive (%s); %d already in place",
		verb, len(staged), strings.Join(staged, ", "), len(present)))
}
