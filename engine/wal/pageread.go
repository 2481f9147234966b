package wal

import (
	"context"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// readPage returns the validated page at addr (a multiple of the page
// size), from cache when it is the page read last.
func (r *Reader) readPage(ctx context.Context, addr lsn.LSN) ([]byte, pageHeader, error) {
	seg := addr.Segment(r.cfg.SegSize)
	tli, _ := r.cfg.History.TLIForSegment(seg, r.cfg.SegSize)
	if !r.nameValid || r.nameSeg != seg || r.nameTLI != tli {
		// Naming a segment costs more than reading a page from the
		// cache, and consecutive pages share their segment.
		r.name, r.nameSeg, r.nameTLI, r.nameValid = lsn.SegmentName(tli, seg, r.cfg.SegSize), seg, tli, true
		r.touch(r.name)
	}
	name := r.name
	if r.pageValid && r.pageAddr == addr {
		r.lastName, r.lastOff = name, addr.SegmentOffset(r.cfg.SegSize)
		return r.page, r.pageHdr, nil
	}
	r.pageValid = false
	off := addr.SegmentOffset(r.cfg.SegSize)
	r.lastName, r.lastOff = name, off
	if off != 0 && r.checkedName != name {
		start := seg.Start(r.cfg.SegSize)
		if err := r.cfg.Source.ReadPage(ctx, tli, seg, 0, r.page); err != nil {
			return nil, pageHeader{}, err
		}
		if _, err := r.validatePage(r.page, start, name); err != nil {
			return nil, pageHeader{}, err
		}
		r.checkedSeg, r.checkedName = seg, name
	}
	if err := r.cfg.Source.ReadPage(ctx, tli, seg, off, r.page); err != nil {
		return nil, pageHeader{}, err
	}
	h, err := r.validatePage(r.page, addr, name)
	if err != nil {
		return nil, pageHeader{}, err
	}
	if off == 0 {
		r.checkedSeg, r.checkedName = seg, name
	}
	r.pageAddr, r.pageHdr, r.pageValid = addr, h, true
	return r.page, h, nil
}
