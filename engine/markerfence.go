package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

// How a half-rewound target is kept from starting.
//
// PostgreSQL never looks at the marker, so the data directory itself must
// refuse. From the first change until the new pg_control is written, the
// target's global/pg_control holds a fenced image: the target's own
// control file with its system identifier inverted, so that its CRC no
// longer matches and the server stops with "incorrect checksum in control
// file" before it reads any WAL or data file. pg_control is the one file
// the server cannot start without and that the rewind only writes last, in
// place; the true image is in the control file backup, which the rerun
// restores first. Moving pg_control away instead would break the in-place
// write and tools that expect the file to exist.
//
// After the new pg_control is written the target is in the state every
// rewind leaves (backup_label, in archive recovery): started without a
// signal file it would replay and then promote itself. The rewind
// therefore also creates standby.signal when the target has none, so a
// manual start in that short window comes up as a standby that never
// leaves recovery; the file is removed again on success unless
// --write-recovery-conf wants it anyway.

// fencedControl turns a control file image into one the server refuses:
// the first eight bytes (the system identifier, covered by the CRC) are
// inverted. Inverting again gives the original image back.
func fencedControl(image []byte) []byte {
	out := bytes.Clone(image)
	for i := 0; i < 8 && i < len(out); i++ {
		out[i] ^= 0xff
	}
	return out
}

// resumeMarker looks for the marker of an interrupted rewind before the
// target's control file is read. With one, it says so and fences
// pg_control again from the backup when the one in place is torn or
// missing. It never lifts the fence: a rerun that fails before it changes
// anything (the source unreachable) must leave the node as unstartable as
// it found it; the rerun reads the target's own control file from the
// backup instead (readTargetControlFenced). Without a marker, it checks
// that one could be written at all, so that a rewind that could not
// record itself fails before it changes anything.
func (r *run) resumeMarker() error {
	m, err := ReadMarker(r.opts.TargetDir)
	if err != nil {
		return err
	}
	if m == nil {
		if r.opts.DryRun {
			return nil
		}
		return probeMarkerDir(r.opts.TargetDir)
	}
	r.marker = m
	r.infof("resuming an interrupted rewind started at %s (phase %s, marker %s)",
		m.Started.UTC().Format(time.RFC3339), m.Phase, MarkerPath(r.opts.TargetDir))
	if r.opts.DryRun {
		return nil
	}
	ctlPath := r.targetPath(target.ControlFilePath)
	cur, err := os.ReadFile(ctlPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", ctlPath, err)
	}
	if err == nil {
		if _, perr := parseControl(cur, "target"); perr == nil {
			return nil
		}
	}
	backup, berr := os.ReadFile(r.targetPath(ControlBackupPath))
	if berr == nil && err == nil && bytes.Equal(cur, fencedControl(backup)) {
		return nil
	}
	if berr != nil {
		return fmt.Errorf("resume interrupted rewind of %s: pg_control is fenced or damaged and its backup %s cannot be read (%w); rebuild the node from a base backup",
			r.opts.TargetDir, r.targetPath(ControlBackupPath), berr)
	}
	if _, perr := parseControl(backup, "target"); perr != nil {
		return fmt.Errorf("resume interrupted rewind of %s: backup %s: %w", r.opts.TargetDir, r.targetPath(ControlBackupPath), perr)
	}
	r.infof("pg_control is torn or missing; fencing it again from %s", ControlBackupPath)
	if err := writeSynced(ctlPath, fencedControl(backup), r.w.FileMode()); err != nil {
		return fmt.Errorf("fence %s again from its backup: %w", ctlPath, err)
	}
	return nil
}

// resumeFinished completes an interrupted rewind that had already written
// the new pg_control (it differs from the backup, or the marker says so):
// only syncing and cleanup were left. It reports whether it did.
func (r *run) resumeFinished(ctx context.Context) (bool, error) {
	if r.marker == nil || r.opts.DryRun {
		return false, nil
	}
	done := r.marker.Phase == MarkerPhaseFinish
	if !done {
		backup, err := os.ReadFile(r.targetPath(ControlBackupPath))
		if err == nil {
			cur, cerr := os.ReadFile(r.targetPath(target.ControlFilePath))
			done = cerr == nil && !bytes.Equal(cur, backup) && !bytes.Equal(cur, fencedControl(backup))
		}
	}
	if !done {
		return false, nil
	}
	r.infof("the interrupted rewind had written its control file; finishing it")
	r.rep.RewindNeeded = true
	r.progress.phase(PhaseSyncing, 0)
	if err := r.w.Sync(ctx); err != nil {
		return true, err
	}
	return true, r.cleanUpMarked()
}

// beginMarker records the rewind before its first change.
func (r *run) beginMarker() error {
	if r.opts.DryRun {
		return nil
	}
	m := &Marker{Started: r.start.UTC(), Source: maskSource(r.opts), PGData: r.opts.TargetDir}
	if r.marker != nil {
		m.Started, m.StandbySignalAdded = r.marker.Started, r.marker.StandbySignalAdded
	}
	m.PID = os.Getpid()
	m.Phase = MarkerPhaseCopy
	r.marker = m
	return writeMarker(r.opts.TargetDir, m)
}

// fence makes the target refuse to start (see the comment at the top of
// this file). It runs after the control file backup is written.
func (r *run) fence() error {
	if r.opts.DryRun {
		return nil
	}
	backup, err := os.ReadFile(r.targetPath(ControlBackupPath))
	if err != nil {
		return fmt.Errorf("fence target pg_control: %w", err)
	}
	ctlPath := r.targetPath(target.ControlFilePath)
	if err := writeSynced(ctlPath, fencedControl(backup), r.w.FileMode()); err != nil {
		return fmt.Errorf("fence target pg_control %s: %w", ctlPath, err)
	}
	signal := r.targetPath("standby.signal")
	if _, err := os.Lstat(signal); errors.Is(err, fs.ErrNotExist) && r.layout != nil && r.layout.Major >= 12 {
		if err := writeSynced(signal, nil, r.w.FileMode()); err != nil {
			return fmt.Errorf("fence target %s: %w", signal, err)
		}
		r.marker.StandbySignalAdded = true
		if err := writeMarker(r.opts.TargetDir, r.marker); err != nil {
			return err
		}
	}
	return syncDir(r.targetPath("global"))
}

// keepFence stops the file map from removing the standby.signal an
// interrupted rewind added as a fence (the source has none).
func (r *run) keepFence(entries []*filemap.FileEntry) {
	if r.marker == nil || !r.marker.StandbySignalAdded {
		return
	}
	for _, e := range entries {
		if e.Path == "standby.signal" && e.Action == filemap.ActionRemove {
			e.Action = filemap.ActionNone
		}
	}
}

// cleanUpMarked ends a rewind whose changes are all written and synced:
// the marker moves to its last phase, the backups go, the standby.signal
// fence goes (unless --write-recovery-conf writes one anyway), the
// recovery configuration is written and, last, the marker is removed.
func (r *run) cleanUpMarked() error {
	if r.opts.DryRun {
		return r.writeRecoveryConf()
	}
	if r.marker != nil {
		r.marker.Phase = MarkerPhaseFinish
		r.marker.PID = os.Getpid()
		if err := writeMarker(r.opts.TargetDir, r.marker); err != nil {
			return err
		}
	}
	if err := r.dropControlBackup(); err != nil {
		return err
	}
	if r.marker != nil && r.marker.StandbySignalAdded && !r.opts.WriteRecoveryConf {
		signal := r.targetPath("standby.signal")
		if err := os.Remove(signal); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove standby.signal fence %s: %w", signal, err)
		}
	}
	if err := r.writeRecoveryConf(); err != nil {
		return err
	}
	// The record goes before the marker: a marker in its last phase
	// needs no record, a record without a marker is never read.
	if err := removeScanRecord(r.opts.TargetDir); err != nil {
		return err
	}
	return removeMarker(r.opts.TargetDir)
}

// PauseEnv names the test-only environment variable that stops the engine
// just before a point of the rewind, so that tests can kill it there.
// PGRUNBOOK_TEST_PAUSE_BEFORE=control pauses before pg_control is written.
const PauseEnv = "PGRUNBOOK_TEST_PAUSE_BEFORE"

// testPause blocks, for the interruption tests only, when PauseEnv names
// point: it says so on stderr and waits until the context ends or ten
// minutes pass.
func testPause(ctx context.Context, point string) {
	if os.Getenv(PauseEnv) != point {
		return
	}
	fmt.Fprintf(os.Stderr, "pgrunbook: test pause before %s\n", point)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Minute):
	}
}

// readTargetControlFenced reads the target's control file as
// readTargetControl does, but takes the backup when an interrupted rewind
// left pg_control fenced: wal-stage, which runs before the rerun, must
// see the target as it was without lifting the fence.
func (r *run) readTargetControlFenced() error {
	err := r.readTargetControl()
	if err == nil {
		return nil
	}
	backup, berr := os.ReadFile(r.targetPath(ControlBackupPath))
	cur, cerr := os.ReadFile(r.targetPath(target.ControlFilePath))
	if berr != nil || cerr != nil || !bytes.Equal(cur, fencedControl(backup)) {
		return err
	}
	cf, perr := parseControl(backup, "target")
	if perr != nil {
		return err
	}
	r.infof("pg_control is fenced by an interrupted rewind; reading its backup %s", ControlBackupPath)
	r.tgtCF, r.layout = cf, cf.Layout
	return nil
}

// FencedControl returns the image an interrupted rewind leaves in
// global/pg_control for a control file image, so that tools reading the
// target (the playbook's steps) can tell a fenced pg_control from a
// damaged one and read its backup instead.
func FencedControl(image []byte) []byte { return fencedControl(image) }
