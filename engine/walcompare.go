package engine

import (
	"bytes"
	"context"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// walComparison is what comparing the two clusters' WAL bytes over a
// range found.
type walComparison int

const (
	// walUnknown: the source's bytes could not be read or are from an
	// unrelated (recycled) segment, so nothing can be said.
	walUnknown walComparison = iota
	// walSame: the source has exactly the target's bytes.
	walSame
	// walSourceEndsEarlier: the source has the target's bytes up to a
	// point and nothing (zeros) after it.
	walSourceEndsEarlier
	// walDiffers: the same pages, on the same timeline, hold different
	// WAL: the clusters forked without a timeline switch.
	walDiffers
)

// pageIdentity covers xlp_magic, xlp_info, xlp_tli and xlp_pageaddr, the
// part of a WAL page header that says which page of which WAL it is.
const pageIdentity = 16

// compareWAL compares the target's WAL bytes in [from, to) with the
// source's, page by page. Streaming replication copies WAL bytes exactly,
// so a source that is a standby of the target (or the target's old
// standby) has the very same bytes, up to where it stopped receiving.
func (r *run) compareWAL(ctx context.Context, from, to lsn.LSN) walComparison {
	pageSize := lsn.LSN(r.tgtCF.WalBlockSize)
	segSize := r.tgtCF.WalSegSize
	srcPages := &sourcePages{src: r.src, segSize: r.srcCF.WalSegSize}
	tgtBuf, srcBuf := make([]byte, pageSize), make([]byte, pageSize)
	for page := from - from%pageSize; page < to; page += pageSize {
		seg := page.Segment(segSize)
		tli, _ := r.tgtHist.TLIForSegment(seg, segSize)
		off := page.SegmentOffset(segSize)
		if err := r.walDir.ReadPage(ctx, tli, seg, off, tgtBuf); err != nil {
			r.debugf("not comparing the clusters' WAL: %v", err)
			return walUnknown
		}
		if err := srcPages.ReadPage(ctx, tli, seg, off, srcBuf); err != nil {
			r.debugf("not comparing the clusters' WAL: %v", err)
			return walUnknown
		}
		hi := pageSize
		if to-page < pageSize {
			hi = to - page
		}
		t, s := tgtBuf[:hi], srcBuf[:hi]
		if bytes.Equal(t, s) {
			continue
		}
		if !bytes.Equal(t[:pageIdentity], s[:pageIdentity]) {
			if allZero(s) {
				return walSourceEndsEarlier
			}
			r.debugf("not comparing the clusters' WAL: the source's page at %s is another page (a recycled segment?)", page)
			return walUnknown
		}
		d := 0
		for d < len(t) && t[d] == s[d] {
			d++
		}
		if allZero(s[d:]) {
			return walSourceEndsEarlier
		}
		return walDiffers
	}
	return walSame
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// targetRecord reads the target's WAL record at p.
func (r *run) targetRecord(ctx context.Context, p lsn.LSN) (*wal.Record, error) {
	rd, err := r.targetReader()
	if err != nil {
		return nil, err
	}
	return rd.ReadRecord(ctx, p)
}
