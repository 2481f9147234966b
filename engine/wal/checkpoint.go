package wal

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
)

// Checkpoint is a checkpoint record found in the WAL.
type Checkpoint struct {
	// LSN is where the checkpoint record starts.
	LSN lsn.LSN
	// Redo is where replay from this checkpoint begins.
	Redo lsn.LSN
	// TLI is the timeline the checkpoint was written on.
	TLI lsn.TimeLineID
	// Shutdown is true for a shutdown checkpoint, false for an online one.
	Shutdown bool
	// State is the full CheckPoint record content.
	State pgcontrol.CheckPoint
}

// FindLastCommonCheckpoint walks the WAL backwards from forkPtr, the
// divergence point, to the last checkpoint record that starts strictly
// before it, as pg_rewind's findLastCheckpoint does. The first record read
// is the one at forkPtr (which exists only on the reader's side of the
// fork); its prev-link leads into the common history.
//
// keep lists the segment files the walk read: pg_rewind must not delete
// them even though the source lacks them, or recovery from the checkpoint
// could not start.
func FindLastCommonCheckpoint(ctx context.Context, r *Reader, forkPtr lsn.LSN) (Checkpoint, []string, error) {
	r.ResetSegments()
	search := forkPtr
	for {
		rec, err := r.ReadRecord(ctx, search)
		if err != nil {
			return Checkpoint{}, r.Segments(), fmt.Errorf("could not find previous WAL record at %s: %w", search, err)
		}
		op := rec.Info & 0xF0
		if rec.RmID == layout.RmgrXLOG && (op == xlogCheckpointShutdown || op == xlogCheckpointOnline) && rec.LSN < forkPtr {
			cp, err := pgcontrol.ParseCheckPoint(rec.MainData, r.cfg.Layout)
			if err != nil {
				return Checkpoint{}, r.Segments(), fmt.Errorf("checkpoint record at %s: %w", rec.LSN, err)
			}
			return Checkpoint{
				LSN: rec.LSN, Redo: cp.Redo, TLI: cp.ThisTimeLineID,
				Shutdown: op == xlogCheckpointShutdown, State: cp,
			}, r.Segments(), nil
		}
		if rec.Prev == 0 {
			return Checkpoint{}, r.Segments(), fmt.Errorf("could not find previous WAL record at %s: record has no predecessor", rec.LSN)
		}
		search = rec.Prev
	}
}
