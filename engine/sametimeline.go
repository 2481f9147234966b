package engine

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
)

// checkSameTimeline goes further than pg_rewind, which declares "no
// rewind required" whenever both clusters are on the same timeline: two
// copies of a cluster that both ran as primaries without a promotion are
// on the same timeline too, and the target then can never follow the
// source. Two checks catch that:
//
//   - when the source's end of WAL is known exactly (a running primary,
//     or a cleanly stopped primary's data directory), a target whose WAL
//     goes further has WAL the source never had;
//   - the bytes of the target's latest checkpoint record, from the start
//     of its WAL page, must be the source's bytes too (or zeros where the
//     source's WAL ends earlier).
//
// What cannot be read (a recycled segment, a source whose WAL ends
// earlier without a known end) leaves pg_rewind's answer standing, with a
// debug note: these checks only ever add refusals with a reason.
func (r *run) checkSameTimeline(ctx context.Context) error {
	tli := r.tgtCF.Timeline()
	tgtRec, err := r.targetRecord(ctx, r.tgtCF.CheckPoint)
	if err != nil {
		r.debugf("not comparing the clusters' WAL: could not read WAL record at %s: %v", r.tgtCF.CheckPoint, err)
		return nil
	}
	tgtEnd := max(tgtRec.EndLSN, r.tgtCF.MinRecoveryPoint)
	srcEnd, known, err := r.sourceEndOfWAL(ctx)
	switch {
	case err != nil:
		r.debugf("not comparing the clusters' ends of WAL: %v", err)
	case known && tgtEnd > srcEnd:
		return fmt.Errorf("target server is ahead of the source on timeline %d: the target's WAL ends at %s, "+
			"the source's at %s; the target wrote WAL the source never had (two primaries without a promotion), "+
			"so it cannot follow the source: rebuild it from a base backup of the source", tli, tgtEnd, srcEnd)
	}
	if r.compareWAL(ctx, tgtRec.LSN, tgtRec.EndLSN) == walDiffers {
		return fmt.Errorf("source and target cluster are on timeline %d but their WAL differs at %s, the target's "+
			"latest checkpoint: both ran as primaries without a promotion, so the target cannot follow the source; "+
			"rebuild it from a base backup of the source", tli, r.tgtCF.CheckPoint)
	}
	return nil
}

// sourceEndOfWAL is where the source's WAL ends, when that can be known:
// the insert position of a running primary, or the end of the shutdown
// checkpoint of a cleanly stopped primary's data directory. A standby's
// end is not recorded anywhere reliable.
func (r *run) sourceEndOfWAL(ctx context.Context) (lsn.LSN, bool, error) {
	switch {
	case !r.local && r.srcCF.State == pgcontrol.InProduction:
		p, err := r.src.CurrentInsertLSN(ctx)
		return lsn.LSN(p), err == nil, err
	case r.local && r.srcCF.State == pgcontrol.ShutDown:
		rec, err := r.readSourceRecord(ctx, r.srcCF.CheckPoint)
		if err != nil {
			return 0, false, err
		}
		return rec.EndLSN, true, nil
	}
	return 0, false, nil
}
