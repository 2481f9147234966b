package engine

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// sourceWAL is how far the source's WAL reaches as the rewind is about to
// list it, for the rule that leaves out the WAL segment files named past
// it: the ones the source pre-allocated or recycled from old segments
// (renamed ahead, old contents kept), which replay never takes for WAL.
// A running primary says its insert location. A running standby says the
// furthest of its received and replayed locations: every WAL file it holds
// with WAL of its history ends there, and its end point, the minimum
// recovery point in its pg_control when the copy ends, is never below the
// replayed one it had at the listing. A stopped source, cleanly shut down
// as the checks require, wrote nothing after its shutdown checkpoint, so
// its WAL ends where that record ends (read from its WAL: the record may
// run into the next segment). Zero, when the position cannot be read,
// turns the rule off: every segment is then fetched as pg_rewind fetches
// it, and --debug says why.
//
// Leaving those files out is as safe as pg_rewind's copy: pg_rewind copies
// each pg_wal file once, at the moment it reaches it, and never guarantees
// WAL written after that moment; the rewound standby gets that WAL from
// the source by streaming or restore_command, which the source must keep
// for it either way. A segment named past the position held none of the
// source's WAL when the position was read, so whatever it comes to hold is
// such later WAL.
func (r *run) sourceWAL(ctx context.Context) uint64 {
	var (
		pos uint64
		err error
	)
	if r.local {
		var end lsn.LSN
		end, err = r.stoppedSourceEnd(ctx)
		pos = uint64(end)
	} else {
		pos, err = r.src.WALPosition(ctx)
	}
	if err == nil && pos == 0 {
		err = fmt.Errorf("the source reports position 0/0")
	}
	if err != nil {
		r.debugf("not leaving out recycled WAL segments: the source's WAL position is unknown: %v", err)
		return 0
	}
	segSize := r.srcCF.WalSegSize
	r.debugf("source WAL position %s: WAL segments after %s are not fetched",
		lsn.LSN(pos), lsn.SegmentName(r.srcCF.Timeline(), lsn.LSN(pos).Segment(segSize), segSize))
	return pos
}

// stoppedSourceEnd is the end of a cleanly stopped source's WAL: the end
// of its shutdown checkpoint record, read along the source's own timeline
// history (the target's may not reach the source's timeline).
func (r *run) stoppedSourceEnd(ctx context.Context) (lsn.LSN, error) {
	if r.srcCF.State != pgcontrol.ShutDown {
		return 0, fmt.Errorf("source data directory in state %s, not shut down as a primary", r.srcCF.State)
	}
	hist, err := r.sourceHistory(ctx, r.srcCF.Timeline())
	if err != nil {
		return 0, err
	}
	pages := &sourcePages{src: r.src, segSize: r.srcCF.WalSegSize}
	rd, err := wal.NewReader(wal.ConfigFor(r.srcCF, pages, hist))
	if err != nil {
		return 0, fmt.Errorf("read source WAL: %w", err)
	}
	rec, err := rd.ReadRecord(ctx, r.srcCF.CheckPoint)
	if err != nil {
		return 0, fmt.Errorf("read the source's shutdown checkpoint at %s: %w", r.srcCF.CheckPoint, err)
	}
	return rec.EndLSN, nil
}
