package engine

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
)

// SkipCounts is one number per reason the rewind leaves a source file
// unfetched, in the report's bytes_skipped and files_skipped.
type SkipCounts struct {
	// WALBeforeRedo is for WAL segments that end at or before the redo
	// point recovery starts from.
	WALBeforeRedo int64 `json:"wal_before_redo"`
	// Unlogged is for the main, free space map and visibility map forks
	// of unlogged relations, which recovery removes and rebuilds from
	// their init forks.
	Unlogged int64 `json:"unlogged"`
	// Temp is for temporary relation files and temporary WAL files, which
	// the server deletes when it starts.
	Temp int64 `json:"temp"`
	// WALRecycled is for WAL segment files past the segment holding the
	// source's WAL position: pre-allocated or recycled files with stale
	// contents that replay never takes for WAL.
	WALRecycled int64 `json:"wal_recycled"`
}

// add counts n under reason r.
func (c *SkipCounts) add(r filemap.SkipReason, n int64) {
	switch r {
	case filemap.SkipWALBeforeRedo:
		c.WALBeforeRedo += n
	case filemap.SkipUnlogged:
		c.Unlogged += n
	case filemap.SkipTemp:
		c.Temp += n
	case filemap.SkipWALRecycled:
		c.WALRecycled += n
	}
}

// trim is the file map's trimming configuration for this rewind: nil with
// Faithful. The redo point is the one backup_label will name, so that
// every WAL segment recovery reads is still fetched. The source's WAL
// position is read here, before the source is listed (see sourceWAL).
func (r *run) trim(ctx context.Context) *filemap.Trim {
	if r.opts.Faithful {
		return nil
	}
	return trimFor(r.backupLabel().StartLSN, r.sourceWAL(ctx), r.tgtCF)
}

// trimFor turns on every trimming rule for a replay that starts at redo,
// from a source whose WAL reaches sourceWAL (zero: unknown).
func trimFor(redo, sourceWAL uint64, cf *pgcontrol.ControlFile) *filemap.Trim {
	return &filemap.Trim{Redo: redo, SourceWAL: sourceWAL, WALSegSize: cf.WalSegSize, Unlogged: true, Temp: true}
}

// reportSkipped puts what the file map left out into the report and the
// log: one -P line in total, one --debug line per reason.
func (r *run) reportSkipped(sum filemap.Summary) {
	for _, reason := range filemap.SkipReasons {
		t := sum.Skipped[reason]
		r.rep.BytesSkipped.add(reason, t.Bytes)
		r.rep.FilesSkipped.add(reason, int64(t.Files))
		if t.Files > 0 {
			r.debugf("skipped %d files, %s (%s)", t.Files, sizeText(t.Bytes), reason)
		}
	}
	if r.opts.Faithful {
		return
	}
	r.progressf("%s", sum.SkipLine())
}

// sizeText prints a byte count for a person: bytes below 10 kB, then kB,
// then MB.
func sizeText(n int64) string {
	switch {
	case n < 10*1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 10*1024*1024:
		return fmt.Sprintf("%d kB", n/1024)
	}
	return fmt.Sprintf("%d MB", n/(1024*1024))
}
