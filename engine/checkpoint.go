package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// findCommonCheckpoint walks the target's WAL back from the divergence to
// the last checkpoint both clusters share, where replay of the rewound
// target will start, and works out which target WAL segments must survive
// the rewind.
func (r *run) findCommonCheckpoint(ctx context.Context) error {
	if r.record != nil {
		r.commonCheckpointFromRecord()
		return nil
	}
	rd, err := r.targetReader()
	if err != nil {
		return err
	}
	r.progress.phase(PhaseReadingWAL, 0)
	ckpt, walked, err := wal.FindLastCommonCheckpoint(ctx, rd, r.divergence)
	if err != nil {
		return r.inTargetWAL(rd, err)
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

// inTargetWAL adds to a failure reading the target's WAL the file and
// offset of the page the reader was at: PostgreSQL's wording names only
// an LSN, and the operator must find the damaged file. Errors that name
// their file already (a missing or short segment) are left alone.
func (r *run) inTargetWAL(rd *wal.Reader, err error) error {
	name, off, ok := rd.LastPage()
	if !ok || ctxErr(err) {
		return err
	}
	file := filepath.Join(r.targetPath("pg_wal"), name)
	if strings.Contains(err.Error(), file) {
		return err
	}
	return fmt.Errorf("%w (in target WAL file %s, page at offset %d)", err, file, off)
}

// ctxErr tells whether err is a cancellation or a deadline.
func ctxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
