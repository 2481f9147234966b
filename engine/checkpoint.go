package engine

import (
	"context"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// findCommonCheckpoint walks the target's WAL back from the divergence to
// the last checkpoint both clusters share, where replay of the rewound
// target will start, and works out which target WAL segments must survive
// the rewind.
func (r *run) findCommonCheckpoint(ctx context.Context) error {
	rd, err := r.targetReader()
	if err != nil {
		return err
	}
	r.progress.phase(PhaseReadingWAL, 0)
	ckpt, walked, err := wal.FindLastCommonCheckpoint(ctx, rd, r.divergence)
	if err != nil {
		return err
	}
	r.ckpt = ckpt
	r.infof("rewinding from last common checkpoint at %s on timeline %d", ckpt.LSN, ckpt.TLI)
	r.rep.LastCommonCheckpoint = &CommonCheckpoint{LSN: ckpt.LSN.String(), Redo: ckpt.Redo.String(), Timeline: ckpt.TLI}
	r.keepWAL = r.requiredSegments(walked)
	return nil
}

// requiredSegments lists the target WAL segments recovery needs before it
// can switch to the source's WAL: every segment from the common
// checkpoint's redo point through the divergence, named by the target's
// history, plus those the backward walk opened. pg_rewind 15 keeps only
// the latter, so the segment holding an online checkpoint's redo point
// can be removed when the source lacks it (its test 010 covers a part of
// this).
func (r *run) requiredSegments(walked []string) []string {
	segSize := r.tgtCF.WalSegSize
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, n := range walked {
		add(n)
	}
	last := r.divergence.Segment(segSize)
	for seg := r.ckpt.Redo.Segment(segSize); seg <= last; seg++ {
		tli, _ := r.tgtHist.TLIForSegment(seg, segSize)
		add(lsn.SegmentName(tli, seg, segSize))
	}
	return names
}
