package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/source/remote"
	"github.com/pgrunbook/pgrunbook/engine/target"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// Option errors, worded as pg_rewind words them; scripts match them.
var (
	ErrNoSource       = errors.New("no source specified (--source-pgdata or --source-server)")
	ErrBothSources    = errors.New("only one of --source-pgdata or --source-server can be specified")
	ErrNoTarget       = errors.New("no target data directory specified (--target-pgdata)")
	ErrRecoveryConfig = errors.New("no source server information (--source-server) specified for --write-recovery-conf")
)

// Validate checks the option combinations pg_rewind refuses before it
// touches anything, in pg_rewind's order.
func (o Options) Validate() error {
	switch {
	case o.SourceDir == "" && o.SourceConninfo == "":
		return ErrNoSource
	case o.SourceDir != "" && o.SourceConninfo != "":
		return ErrBothSources
	case o.TargetDir == "":
		return ErrNoTarget
	case o.WriteRecoveryConf && o.SourceConninfo == "":
		return ErrRecoveryConfig
	}
	return o.validateStream()
}

// run is the state of one rewind as it moves through its steps.
type run struct {
	opts  Options
	start time.Time
	rep   *Report

	w     *target.Writer
	src   source.Source
	local bool

	// tgtCF and srcCF are the control files as first read; srcRaw is the
	// source's image, compared with a second read at the end for a local
	// source.
	tgtCF, srcCF *pgcontrol.ControlFile
	srcRaw       []byte
	layout       *layout.Layout

	restoreCommand string
	postgresPath   string

	tgtHist    timeline.History
	walDir     *wal.Dir
	reader     *wal.Reader
	divergence lsn.LSN
	targetEnd  lsn.LSN
	ckpt       wal.Checkpoint
	keepWAL    []string

	progress progressCounter
	fetched  atomic.Int64

	// marker is the in-progress record of this rewind, or of the
	// interrupted one it resumes (see markerfence.go).
	marker *Marker
	// record is the scan record of the interrupted rewind this run
	// resumes, which stands in for the target's WAL (scanrecord.go).
	record *scanRecord
	// scanned is every block the target's WAL changed since the common
	// checkpoint, as the scan (or the record) gave them.
	scanned []changedBlock
}

// Rewind rewinds opts.TargetDir to match the source, as pg_rewind 15 does.
// The report is returned even on failure, as far as the rewind got.
func Rewind(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	r := &run{
		opts:  opts,
		start: time.Now(),
		rep:   &Report{DryRun: opts.DryRun, Actions: map[string]filemap.ActionTotal{}},
		local: opts.SourceDir != "",
	}
	r.progress.fn = opts.OnProgress
	err := r.rewind(ctx)
	if cerr := r.close(ctx); err == nil {
		err = cerr
	}
	r.rep.BytesFetched = r.fetched.Load()
	r.reportTransfer()
	r.rep.DurationMS = time.Since(r.start).Milliseconds()
	return r.rep, err
}

// rewind is pg_rewind's main, step by step.
func (r *run) rewind(ctx context.Context) error {
	w, err := target.Open(r.opts.TargetDir, target.Options{DryRun: r.opts.DryRun, NoSync: r.opts.NoSync})
	if err != nil {
		return err
	}
	r.w = w
	// An interrupted rewind fenced pg_control and left a marker: say so,
	// and fence a torn pg_control again.
	if err := r.resumeMarker(); err != nil {
		return err
	}
	// The target's control file comes first, so that a cluster of a major
	// version the engine cannot handle is refused before anything runs.
	// A fenced one is read from its backup.
	if err := r.readTargetControlFenced(); err != nil {
		return err
	}
	if done, err := r.resumeFinished(ctx); done || err != nil {
		return err
	}
	// A rewind that failed part way may have overwritten the target's
	// WAL; what it read there is in its scan record.
	if err := r.loadScanRecord(); err != nil {
		return err
	}
	if r.opts.RestoreTargetWAL {
		if err := r.readRestoreCommand(ctx); err != nil {
			return err
		}
	}
	if err := r.openSource(ctx); err != nil {
		return err
	}
	if !r.tgtCF.State.CleanlyShutDown() {
		if err := r.checkTargetStopped(); err != nil {
			return err
		}
	}
	if !r.opts.NoEnsureShutdown && !r.tgtCF.State.CleanlyShutDown() {
		if err := r.ensureCleanShutdown(ctx); err != nil {
			return err
		}
	}
	if err := r.readSourceControl(ctx); err != nil {
		return err
	}
	if err := r.sanityChecks(); err != nil {
		return err
	}
	needed, err := r.findDivergence(ctx)
	if err != nil {
		return err
	}
	r.rep.RewindNeeded = needed
	if !needed {
		r.infof("no rewind required")
		if err := r.writeRecoveryConf(); err != nil {
			return err
		}
		r.progress.phase(PhaseDone, 0)
		return nil
	}
	if err := r.findCommonCheckpoint(ctx); err != nil {
		return err
	}
	entries, err := r.buildFileMap(ctx)
	if err != nil {
		return err
	}
	keepControlBackup(entries)
	r.keepFence(entries)
	if r.record == nil {
		if err := r.writeScanRecord(r.scanned); err != nil {
			return err
		}
	}
	if err := r.beginMarker(); err != nil {
		return err
	}
	if err := r.backupControl(); err != nil {
		return err
	}
	if err := r.fence(); err != nil {
		return err
	}
	if err := r.perform(ctx, entries); err != nil {
		return err
	}
	if err := r.finish(ctx); err != nil {
		return err
	}
	r.progressf("syncing target data directory")
	r.progress.phase(PhaseSyncing, 0)
	if err := r.w.Sync(ctx); err != nil {
		return err
	}
	if err := r.cleanUpMarked(); err != nil {
		return err
	}
	r.progress.phase(PhaseDone, 0)
	r.infof("Done!")
	return nil
}

// openSource connects to the source server or opens the source directory.
func (r *run) openSource(ctx context.Context) error {
	if r.local {
		s, err := openLocal(r.opts.SourceDir)
		if err != nil {
			return err
		}
		r.src = s
		return nil
	}
	// With a stream the SQL connection's fetch is only the fallback for
	// the odd file the stream server refuses, so its job connections
	// open when such a file comes, not up front.
	s, err := openRemote(ctx, r.opts.SourceConninfo, remote.Options{
		Jobs: r.opts.Jobs, OnDemand: r.opts.SourceStream != "", Debugf: r.debugf,
	})
	if err != nil {
		return err
	}
	r.src = s
	r.progressf("connected to server")
	if r.opts.SourceStream != "" {
		return r.attachStream(ctx)
	}
	return nil
}

// close releases the source, the target files and the WAL reader.
func (r *run) close(ctx context.Context) error {
	var errs []error
	if r.walDir != nil {
		errs = append(errs, r.walDir.Close())
	}
	if r.w != nil {
		errs = append(errs, r.w.Close())
	}
	if r.src != nil {
		errs = append(errs, r.src.Close(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close rewind of %s: %w", r.opts.TargetDir, err)
	}
	return nil
}

// targetPath is a path inside the target data directory.
func (r *run) targetPath(rel string) string {
	return filepath.Join(r.opts.TargetDir, filepath.FromSlash(rel))
}
