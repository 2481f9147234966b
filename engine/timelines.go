package engine

import (
	"context"
	"fmt"
	"os"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// findDivergence works out where the two clusters' timelines part and
// whether the target wrote WAL past that point, which is what makes a
// rewind necessary. It reports whether a rewind is needed.
func (r *run) findDivergence(ctx context.Context) (bool, error) {
	srcTLI, tgtTLI := r.srcCF.Timeline(), r.tgtCF.Timeline()
	tgtHist, err := r.targetHistory(tgtTLI)
	if err != nil {
		return false, err
	}
	r.tgtHist = tgtHist
	if srcTLI == tgtTLI {
		if r.record != nil {
			return false, fmt.Errorf("resume interrupted rewind of %s: the source is now on the target's timeline %d, the interrupted rewind's was on another; is it still the same new primary?",
				r.opts.TargetDir, srcTLI)
		}
		r.infof("source and target cluster are on the same timeline")
		return false, r.checkSameTimeline(ctx)
	}
	srcHist, err := r.sourceHistory(ctx, srcTLI)
	if err != nil {
		return false, err
	}
	r.dumpHistory("Source timeline history:", srcHist)
	r.dumpHistory("Target timeline history:", tgtHist)
	div, idx, err := timeline.FindDivergence(srcHist, tgtHist)
	if err != nil {
		return false, err
	}
	r.divergence = div
	divTLI := tgtHist[idx].TLI
	r.infof("servers diverged at WAL location %s on timeline %d", div, divTLI)
	r.rep.Divergence = &Divergence{LSN: div.String(), Timeline: divTLI}
	if r.record != nil {
		if err := r.resumeFromRecord(div); err != nil {
			return false, err
		}
		return r.targetEnd > div, nil
	}

	end, err := r.targetEndOfWAL(ctx)
	if err != nil {
		return false, err
	}
	r.targetEnd = end
	// A target whose WAL ends at or before the divergence is an ancestor
	// of the source: it can follow the source as it is. pg_rewind 15
	// asserts equality here, which a lagging standby target breaks.
	return end > div, nil
}

// targetEndOfWAL is where the target's WAL ends: the end of its latest
// checkpoint record, or its minRecoveryPoint if that is later (a former
// standby has replayed past its last restartpoint).
func (r *run) targetEndOfWAL(ctx context.Context) (lsn.LSN, error) {
	rd, err := r.targetReader()
	if err != nil {
		return 0, err
	}
	rec, err := rd.ReadRecord(ctx, r.tgtCF.CheckPoint)
	if err != nil {
		return 0, fmt.Errorf("could not read WAL record at %s: %w", r.tgtCF.CheckPoint, err)
	}
	return max(rec.EndLSN, r.tgtCF.MinRecoveryPoint), nil
}

// targetReader is the reader of the target's WAL, following its timeline
// history and, with -c, restoring missing segments.
func (r *run) targetReader() (*wal.Reader, error) {
	if r.reader != nil {
		return r.reader, nil
	}
	var fetch wal.Fetcher
	if r.restoreCommand != "" {
		f, err := wal.RestoreCommand(r.restoreCommand)
		if err != nil {
			return nil, err
		}
		fetch = f
	}
	r.walDir = wal.NewDir(r.targetPath("pg_wal"), r.tgtCF.WalSegSize, fetch)
	rd, err := wal.NewReader(wal.ConfigFor(r.tgtCF, r.walDir, r.tgtHist))
	if err != nil {
		return nil, fmt.Errorf("read target WAL: %w", err)
	}
	r.reader = rd
	return rd, nil
}

// sourceHistory fetches and parses the source's timeline history.
func (r *run) sourceHistory(ctx context.Context, tli lsn.TimeLineID) (timeline.History, error) {
	if tli == 1 {
		return timeline.Single(1), nil
	}
	name := lsn.HistoryFileName(tli)
	b, err := r.src.FetchFile(ctx, "pg_wal/"+name)
	if err != nil {
		return nil, err
	}
	return timeline.Parse(name, b, tli)
}

// targetHistory reads and parses the target's timeline history; a
// resumed rewind takes it from its scan record, as the interrupted one may
// have replaced the file with the source's.
func (r *run) targetHistory(tli lsn.TimeLineID) (timeline.History, error) {
	if r.record != nil {
		return r.record.History, nil
	}
	if tli == 1 {
		return timeline.Single(1), nil
	}
	name := lsn.HistoryFileName(tli)
	path := r.targetPath("pg_wal/" + name)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("could not open file \"%s\" for reading: %w", path, err)
	}
	return timeline.Parse(name, b, tli)
}

// dumpHistory prints a history as pg_rewind --debug does.
func (r *run) dumpHistory(title string, h timeline.History) {
	r.debugf("%s", title)
	for _, e := range h {
		r.debugf("%s", e)
	}
}
