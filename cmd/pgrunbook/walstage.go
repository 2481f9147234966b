package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() { subcommands = append(subcommands, newWALStageCmd) }

// walStageOptions are the flags of `pgrunbook wal-stage`.
type walStageOptions struct {
	stage        engine.StageOptions
	report       string
	progressJSON bool
	progress     bool
	debug        bool
}

func (o *walStageOptions) register(f *pflag.FlagSet) {
	f.StringVarP(&o.stage.TargetDir, "target-pgdata", "D", "", "data directory a rewind will rewind")
	f.StringVar(&o.stage.SourceConninfo, "source-server", "", "running source server the rewind will copy from")
	f.StringVar(&o.stage.SourceDir, "source-pgdata", "", "stopped source data directory the rewind will copy from")
	f.StringVar(&o.stage.ArchiveDir, "archive-dir", "", "WAL archive directory to copy missing segments from")
	f.StringVar(&o.stage.RestoreCommand, "restore-command", "", "restore_command (%f, %p) that fetches one missing file")
	f.BoolVarP(&o.stage.DryRun, "dry-run", "n", false, "work out what would be staged; write nothing into the target")
	f.BoolVar(&o.stage.CheckOnly, "check-only", false, "only decide whether a rewind is needed (reads no archive unless pg_wal lacks the latest checkpoint)")
	f.StringVar(&o.stage.ConfigFile, "config-file", "", "main configuration file of the target")
	f.StringVar(&o.stage.BinDir, "pg-bin-dir", "", "directory of the target's PostgreSQL binaries")
	f.StringVar(&o.report, "report", "", "write a JSON report of the staging to FILE")
	f.BoolVar(&o.progressJSON, "progress-json", false, "print progress as JSON lines on standard output")
	f.BoolVarP(&o.progress, "progress", "P", false, "print progress messages")
	f.BoolVar(&o.debug, "debug", false, "print debugging output")
}

const walStageLong = `Stage into the target's pg_wal exactly the WAL segments (and timeline history
files) that a rewind of the target will read, copying each missing one from a WAL
archive directory or with a restore_command, checked before it takes its name.
Nothing else is copied from the archive.

With --check-only it only decides whether a rewind is needed at all.

Exit codes: 0 staged (or nothing was missing, or the check succeeded), 1 an
error (for example a needed segment that neither pg_wal nor the archive has),
2 a usage error.`

func newWALStageCmd() *cobra.Command {
	var opts walStageOptions
	cmd := &cobra.Command{
		Use:   "wal-stage -D PGDATA (--source-server CONNSTR | --source-pgdata DIR) (--archive-dir DIR | --restore-command CMD)",
		Short: "Copy from the WAL archive exactly the segments a rewind of PGDATA will need",
		Long:  walStageLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWALStage(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.register(cmd.Flags())
	return cmd
}

// runWALStage stages the WAL and writes the report.
func runWALStage(ctx context.Context, o walStageOptions, stdout, stderr io.Writer) error {
	if err := o.stage.Validate(); err != nil {
		return withCode(2, fmt.Errorf("wal-stage: %w", err))
	}
	if os.Geteuid() == 0 {
		return withCode(1, errors.New("wal-stage: cannot be executed by \"root\": run it as the PostgreSQL OS user, who must own the staged files"))
	}
	o.stage.Log = func(level engine.Level, msg string) {
		if level == engine.LevelDebug && !o.debug || level == engine.LevelProgress && !o.progress {
			return
		}
		fmt.Fprintf(stderr, "wal-stage: %s\n", msg)
	}
	if o.progressJSON {
		o.stage.OnProgress = func(p engine.Progress) {
			if b, err := json.Marshal(p); err == nil {
				fmt.Fprintf(stdout, "%s\n", b)
			}
		}
	}
	rep, err := engine.StageWAL(ctx, o.stage)
	if o.report != "" && rep != nil {
		if werr := rep.WriteFile(o.report); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return withCode(1, fmt.Errorf("wal-stage: %w", err))
	}
	fmt.Fprintf(stderr, "wal-stage: %s\n", stageSummary(rep))
	return nil
}

// stageSummary is the one line printed at the end.
func stageSummary(rep *engine.StageReport) string {
	var parts []string
	if rep.Divergence != nil {
		parts = append(parts, fmt.Sprintf("servers diverged at %s on timeline %d", rep.Divergence.LSN, rep.Divergence.Timeline))
	}
	if !rep.RewindNeeded {
		return strings.Join(append(parts, "no rewind required"), "; ")
	}
	if rep.CheckOnly {
		return strings.Join(append(parts, "rewind required"), "; ")
	}
	verb := "staged"
	if rep.DryRun {
		verb = "would stage"
	}
	parts = append(parts, fmt.Sprintf("%s %d files (%d bytes), %d already in pg_wal", verb, len(rep.Staged), rep.BytesStaged, len(rep.Present)))
	return strings.Join(parts, "; ")
}
