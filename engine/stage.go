package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// StageOptions are the settings of one WAL staging run (StageWAL).
type StageOptions struct {
	// TargetDir is the data directory a rewind will rewind.
	TargetDir string
	// SourceDir or SourceConninfo is the source the rewind will copy from;
	// exactly one is set. Only its control file and timeline history are
	// read.
	SourceDir      string
	SourceConninfo string

	// ArchiveDir is a WAL archive directory holding segment files under
	// their own names. At most one of ArchiveDir and RestoreCommand is set;
	// CheckOnly needs neither.
	ArchiveDir string
	// RestoreCommand is a restore_command (%f, %p, %%) that fetches one file.
	RestoreCommand string

	// DryRun works out what would be staged without writing into the
	// target: missing segments are fetched into a private temporary
	// directory, read there and removed.
	DryRun bool
	// CheckOnly stops once it is known whether a rewind is needed (the
	// divergence point against the target's end of WAL), which reads only
	// control files, histories and the target's latest checkpoint record.
	CheckOnly bool

	// ConfigFile and BinDir are accepted for symmetry with Options; the
	// staging runs no postgres process.
	ConfigFile string
	BinDir     string

	// Log receives the messages, as Options.Log does. Nil discards them.
	Log Logger
	// OnProgress, when set, receives a snapshot after every staged file
	// (phase "staging_wal", bytes).
	OnProgress func(Progress)
}

// PhaseStagingWAL is the progress phase of StageWAL.
const PhaseStagingWAL = "staging_wal"

// Staging option errors.
var (
	ErrNoArchive    = errors.New("no WAL archive specified (--archive-dir or --restore-command)")
	ErrBothArchives = errors.New("only one of --archive-dir or --restore-command can be specified")
)

// Validate checks the option combination before anything is read.
func (o StageOptions) Validate() error {
	if err := (Options{TargetDir: o.TargetDir, SourceDir: o.SourceDir, SourceConninfo: o.SourceConninfo}).Validate(); err != nil {
		return err
	}
	switch {
	case o.ArchiveDir != "" && o.RestoreCommand != "":
		return ErrBothArchives
	case o.ArchiveDir == "" && o.RestoreCommand == "" && !o.CheckOnly:
		return ErrNoArchive
	}
	return nil
}

// StageWAL puts into the target's pg_wal exactly the WAL segments (and
// timeline history files) a rewind of the target will read and keep,
// fetching each missing one from the archive. It finds them by running the
// rewind's own readers: the divergence point from both histories, the
// backward walk from the divergence to the last common checkpoint, and the
// forward scan from that checkpoint to the target's end of WAL, plus every
// segment from the checkpoint's redo point through the divergence, which
// the rewind keeps for recovery. A segment is fetched only when a reader
// asks for it, never the whole archive, and it is checked (size, page
// magic, system identifier, page address) under a temporary name before it
// is renamed into pg_wal, so a wrong file is never left there.
//
// The report is returned even on failure, as far as the staging got.
func StageWAL(ctx context.Context, opts StageOptions) (*StageReport, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &StageReport{DryRun: opts.DryRun, CheckOnly: opts.CheckOnly, Staged: []StagedFile{}, Present: []string{}}
	r := &run{
		opts: Options{
			TargetDir: opts.TargetDir, SourceDir: opts.SourceDir, SourceConninfo: opts.SourceConninfo,
			ConfigFile: opts.ConfigFile, BinDir: opts.BinDir, Jobs: 1, Log: opts.Log,
		},
		start: start,
		rep:   &Report{Actions: map[string]filemap.ActionTotal{}},
		local: opts.SourceDir != "",
	}
	s := &stager{opts: opts, rep: rep, r: r}
	err := s.stage(ctx)
	if cerr := s.close(ctx); err == nil {
		err = cerr
	}
	rep.finish(r, s)
	rep.DurationMS = time.Since(start).Milliseconds()
	return rep, err
}

// stage runs the readers of a rewind with a fetching page source.
func (s *stager) stage(ctx context.Context) error {
	r := s.r
	if err := r.readTargetControlFenced(); err != nil {
		return err
	}
	if resumed, err := s.resumesRewind(); resumed || err != nil {
		return err
	}
	r.tgtCF = replayedTimeline(r.tgtCF)
	if err := s.open(); err != nil {
		return err
	}
	tli := r.tgtCF.Timeline()
	if err := s.ensureHistory(ctx, tli); err != nil {
		return err
	}
	if err := r.openSource(ctx); err != nil {
		return err
	}
	if err := r.readSourceControl(ctx); err != nil {
		return err
	}
	if r.srcCF.SystemIdentifier != r.tgtCF.SystemIdentifier {
		return ErrDifferentSystems
	}
	// On one timeline no rewind is ever needed (the rewind only checks that
	// the target is not ahead, from what pg_wal has): nothing is fetched.
	s.noFetch = r.srcCF.Timeline() == tli
	hist, err := r.targetHistory(tli)
	if err != nil {
		return err
	}
	rd, err := wal.NewReader(wal.ConfigFor(r.tgtCF, s, hist))
	if err != nil {
		return fmt.Errorf("read target WAL: %w", err)
	}
	// The rewind's own steps below find this reader and use it, so every
	// page they read comes through the stager.
	r.reader, r.walDir = rd, s.main
	needed, err := r.findDivergence(ctx)
	if err != nil {
		return err
	}
	if r.rep.Divergence != nil && !r.tgtCF.State.CleanlyShutDown() {
		// Crash recovery will replay the WAL after the latest checkpoint
		// before the rewind looks at it; its end decides.
		end, err := s.scanToEnd(ctx, rd)
		if err != nil {
			return err
		}
		if end > r.targetEnd {
			r.targetEnd = end
		}
		needed = r.targetEnd > r.divergence
	}
	s.rep.RewindNeeded = needed
	if !needed || s.opts.CheckOnly {
		if !needed {
			r.infof("no rewind required")
		}
		return nil
	}
	if err := r.findCommonCheckpoint(ctx); err != nil {
		return err
	}
	r.progressf("reading WAL in target")
	if err := wal.ScanBlocks(ctx, rd, r.ckpt.LSN, r.targetEnd, wal.ScanFuncs{}); err != nil {
		return err
	}
	// The segments from the checkpoint's redo point through the
	// divergence stay in the rewound pg_wal for recovery.
	for _, name := range r.keepWAL {
		if err := s.ensureSegment(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// resumesRewind tells whether a rewind of the target was interrupted.
// Its rerun reads the interrupted rewind's scan record instead of the
// target's WAL, which that rewind may have overwritten, so nothing is
// staged; the report gives what the record holds. A record the rerun
// could not use fails the staging with the rerun's own error.
func (s *stager) resumesRewind() (bool, error) {
	r := s.r
	m, err := ReadMarker(r.opts.TargetDir)
	if err != nil || m == nil {
		return false, err
	}
	r.marker = m
	s.rep.RewindNeeded = true
	if m.Phase == MarkerPhaseFinish {
		r.infof("an interrupted rewind has only its cleanup left; nothing to stage")
		return true, nil
	}
	if err := r.loadScanRecord(); err != nil {
		return true, err
	}
	rec := r.record
	r.rep.Divergence = &Divergence{LSN: lsn.LSN(rec.Divergence).String(), Timeline: lsn.TimeLineID(rec.DivergenceTLI)}
	r.targetEnd = lsn.LSN(rec.TargetEnd)
	r.commonCheckpointFromRecord()
	r.infof("an interrupted rewind recorded what it read of the target's WAL; nothing to stage")
	return true, nil
}

// scanToEnd reads forward from the target's latest checkpoint to the end of
// its WAL, which a segment that neither pg_wal nor the archive has also
// marks (as it does for crash recovery).
func (s *stager) scanToEnd(ctx context.Context, rd *wal.Reader) (lsn.LSN, error) {
	rec, err := rd.ReadRecord(ctx, s.r.tgtCF.CheckPoint)
	if err != nil {
		return 0, fmt.Errorf("could not read WAL record at %s: %w", s.r.tgtCF.CheckPoint, err)
	}
	end := rec.EndLSN
	for {
		rec, err := rd.Next(ctx)
		var missing *wal.MissingSegmentError
		switch {
		case errors.Is(err, wal.ErrEndOfWAL), errors.As(err, &missing):
			return end, nil
		case err != nil && ctx.Err() != nil:
			return 0, ctx.Err()
		case err != nil:
			// A torn or invalid record ends the WAL for crash recovery too.
			s.r.debugf("end of target WAL at %s: %v", end, err)
			return end, nil
		}
		end = rec.EndLSN
	}
}

// close releases the source, the segment files and the spool directory.
func (s *stager) close(ctx context.Context) error {
	var errs []error
	if s.main != nil {
		errs = append(errs, s.main.Close())
	}
	if s.spool != nil {
		errs = append(errs, s.spool.Close())
	}
	if s.spoolPath != "" {
		errs = append(errs, os.RemoveAll(s.spoolPath))
	}
	if s.r.src != nil {
		errs = append(errs, s.r.src.Close(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close WAL staging of %s: %w", s.opts.TargetDir, err)
	}
	return nil
}

// replayedTimeline judges the target's timeline as PostgreSQL 16's
// pg_rewind does, from the larger of its checkpoint's timeline and its
// minRecoveryPointTLI. A node that was just rewound and started as a
// standby has replayed the source's newer timeline before its first
// restartpoint moves the checkpoint there; by the checkpoint alone (the
// rule of 15) it still looks diverged, and a playbook run again would
// rewind it again. The rewind step decides with StageWAL's CheckOnly, so
// this is what makes its second run report "no rewind required".
func replayedTimeline(cf *pgcontrol.ControlFile) *pgcontrol.ControlFile {
	if cf.Layout.Timeline == layout.TimelineMaxWithMinRecovery || cf.MinRecoveryPointTLI <= cf.CheckPointCopy.ThisTimeLineID {
		return cf
	}
	l := *cf.Layout
	l.Timeline = layout.TimelineMaxWithMinRecovery
	c := *cf
	c.Layout = &l
	return &c
}
