package engine

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/target"
)

// finish writes backup_label and the new pg_control, which together make
// the rewound target start recovery at the common checkpoint and not
// consider itself consistent before it has replayed the source's WAL up to
// where the source was when the copy ended. pg_control is the last write:
// until then the target still has its old control file.
func (r *run) finish(ctx context.Context) error {
	raw, err := r.src.FetchFile(ctx, target.ControlFilePath)
	if err != nil {
		return err
	}
	after, err := parseControl(raw, "source")
	if err != nil {
		return err
	}
	// A stopped source must not have changed under us: nothing in WAL
	// replay would repair a torn copy of it.
	size := after.Layout.Control.Size
	if r.local && !bytes.Equal(raw[:size], r.srcRaw[:size]) {
		return ErrSourceModified
	}
	r.progressf("creating backup label and updating control file")

	endLSN, endTLI, err := r.sourceEndPoint(ctx, after)
	if err != nil {
		return err
	}
	if err := r.w.WriteBackupLabel(r.backupLabel()); err != nil {
		return err
	}
	after.MinRecoveryPoint = endLSN
	after.MinRecoveryPointTLI = endTLI
	after.State = pgcontrol.InArchiveRecovery
	after.Time = time.Now().Unix()
	testPause(ctx, "control")
	return r.w.WriteControlFile(after.Marshal())
}

// backupLabel says where replay starts: the last common checkpoint, unless
// the source is a standby whose last restartpoint is older than that
// checkpoint. The source's pg_control, copied to the target, then points
// at that restartpoint, and replay must start there (pg_rewind's rule,
// exercised by a standby source in upstream test 007).
func (r *run) backupLabel() target.BackupLabel {
	redo, tli, ckpt := r.ckpt.Redo, r.ckpt.TLI, r.ckpt.LSN
	if sc := r.srcCF.CheckPointCopy; sc.Redo < redo {
		redo, tli, ckpt = sc.Redo, sc.ThisTimeLineID, r.srcCF.CheckPoint
	}
	segSize := r.tgtCF.WalSegSize
	return target.BackupLabel{
		StartLSN:      uint64(redo),
		StartWALFile:  lsn.SegmentName(tli, redo.Segment(segSize), segSize),
		CheckpointLSN: uint64(ckpt),
		StartTime:     time.Now(),
	}
}

// sourceEndPoint is how far the rewound target must replay before it is
// consistent: everything the source had when the copy finished. A
// stopped source ends at its shutdown checkpoint; a running standby at its
// minimum recovery point; a running primary at its current insert
// position.
func (r *run) sourceEndPoint(ctx context.Context, after *pgcontrol.ControlFile) (lsn.LSN, lsn.TimeLineID, error) {
	if r.local {
		return after.CheckPoint, after.CheckPointCopy.ThisTimeLineID, nil
	}
	switch after.State {
	case pgcontrol.InArchiveRecovery:
		return after.MinRecoveryPoint, after.MinRecoveryPointTLI, nil
	case pgcontrol.InProduction:
		p, err := r.src.CurrentInsertLSN(ctx)
		if err != nil {
			return 0, 0, err
		}
		return lsn.LSN(p), after.Timeline(), nil
	}
	return 0, 0, fmt.Errorf("%w (%s)", ErrSourceUnexpected, after.State)
}
