package wal

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// XLOG resource manager opcodes the reader itself must understand.
const (
	xlogCheckpointShutdown = 0x00
	xlogCheckpointOnline   = 0x10
	xlogSwitch             = 0x40
)

// readRecord reads the record at ptr, gathering it across pages and
// segments as xlogreader does, and checks its header, prev-link and CRC.
// With randAccess the prev-link must only point backwards; otherwise it
// must equal prevStart.
func (r *Reader) readRecord(ctx context.Context, ptr lsn.LSN, randAccess bool, prevStart lsn.LSN) (*Record, error) {
	for {
		rec, restart, err := r.tryReadRecord(ctx, ptr, randAccess, prevStart)
		if err != nil || restart == 0 {
			return rec, err
		}
		// The record was never finished: a crash cut it off and the
		// server wrote an XLOG_OVERWRITE_CONTRECORD at the start of the
		// page where its rest should have been. Read that instead.
		ptr = restart
	}
}

// tryReadRecord reads one record at ptr. It returns a non-zero restart
// position instead of a record when the record turns out to be
// overwritten.
func (r *Reader) tryReadRecord(ctx context.Context, ptr lsn.LSN, randAccess bool, prevStart lsn.LSN) (*Record, lsn.LSN, error) {
	off := uint32(uint64(ptr) % uint64(r.cfg.PageSize))
	pageAddr := ptr - lsn.LSN(off)
	page, hdr, err := r.readPage(ctx, pageAddr)
	if err != nil {
		return nil, 0, err
	}
	hs := hdr.size()
	if off == 0 {
		ptr += lsn.LSN(hs)
		off = hs
	} else if off < hs {
		return nil, 0, fmt.Errorf("invalid record offset at %s: expected at least %d, got %d", ptr, hs, off)
	}
	if hdr.info&pageFirstIsContRecord != 0 && off == hs {
		return nil, 0, fmt.Errorf("contrecord is requested by %s", ptr)
	}
	a := &assembly{ptr: ptr, randAccess: randAccess, prevStart: prevStart}
	avail := r.cfg.PageSize - off
	a.totLen = binary.LittleEndian.Uint32(page[off:])
	if avail >= recordHeaderSize {
		if err := a.header(r, page[off:]); err != nil {
			return nil, 0, err
		}
	} else if a.totLen < recordHeaderSize {
		return nil, 0, invalidLength(ptr, a.totLen)
	}
	if a.totLen > maxRecordLen {
		return nil, 0, fmt.Errorf("record length %d at %s too long", a.totLen, ptr)
	}
	// Grow the buffer with the data actually read, so that a corrupt
	// length cannot make us allocate before the page headers disagree.
	take := min(avail, a.totLen)
	end := ptr + lsn.LSN(maxAlign(uint64(a.totLen)))
	switch {
	case r.reuse && take == a.totLen:
		// The record lies within the page, which stays put until the
		// next page is read: decode it in place.
		a.buf = page[off : off+take]
	case r.reuse:
		a.buf = append(r.scratch[:0], page[off:off+take]...)
	default:
		a.buf = append(make([]byte, 0, take), page[off:off+take]...)
	}
	if take < a.totLen {
		var restart lsn.LSN
		end, restart, err = r.gather(ctx, a, pageAddr)
		if r.reuse && cap(a.buf) <= maxScratch {
			r.scratch = a.buf[:0]
		}
		if err != nil || restart != 0 {
			return nil, restart, err
		}
	}
	rec, err := r.finish(a, end)
	return rec, 0, err
}

// maxScratch bounds the assembly buffer a scanning reader keeps between
// records, so that one huge record does not pin its memory for the rest
// of the scan.
const maxScratch = 1 << 20

// assembly is a record being put together from pages.
type assembly struct {
	ptr        lsn.LSN
	randAccess bool
	prevStart  lsn.LSN
	totLen     uint32
	buf        []byte
	hdr        header
	gotHeader  bool
}

// header decodes and checks the record header from b.
func (a *assembly) header(r *Reader, b []byte) error {
	a.hdr = decodeHeader(b)
	if err := r.checkHeader(a.hdr, a.ptr, a.randAccess, a.prevStart); err != nil {
		return err
	}
	a.gotHeader = true
	return nil
}

// gather appends the continuation pages of a record that began on the page
// at pageAddr, checking each page's continuation flag and xlp_rem_len. It
// returns where the next record starts, or a restart position when the
// record was overwritten.
func (r *Reader) gather(ctx context.Context, a *assembly, pageAddr lsn.LSN) (end, restart lsn.LSN, err error) {
	pagePtr := pageAddr
	for uint32(len(a.buf)) < a.totLen {
		pagePtr += lsn.LSN(r.cfg.PageSize)
		page, hdr, err := r.readPage(ctx, pagePtr)
		if err != nil {
			return 0, 0, err
		}
		if hdr.info&pageFirstIsOverwriteContRecord != 0 {
			return 0, pagePtr, nil
		}
		if hdr.info&pageFirstIsContRecord == 0 {
			return 0, 0, fmt.Errorf("there is no contrecord flag at %s", pagePtr)
		}
		got := uint32(len(a.buf))
		if hdr.remLen == 0 || a.totLen != hdr.remLen+got {
			return 0, 0, fmt.Errorf("invalid contrecord length %d (expected %d) at %s", hdr.remLen, a.totLen-got, pagePtr)
		}
		phs := hdr.size()
		n := min(r.cfg.PageSize-phs, a.totLen-got)
		a.buf = append(a.buf, page[phs:phs+n]...)
		if !a.gotHeader && len(a.buf) >= recordHeaderSize {
			if err := a.header(r, a.buf); err != nil {
				return 0, 0, err
			}
		}
		end = pagePtr + lsn.LSN(phs) + lsn.LSN(maxAlign(uint64(hdr.remLen)))
	}
	return end, 0, nil
}

// finish checks the CRC of an assembled record and decodes it.
func (r *Reader) finish(a *assembly, end lsn.LSN) (*Record, error) {
	if recordCRC(a.buf) != a.hdr.crc {
		return nil, fmt.Errorf("incorrect resource manager data checksum in record at %s", a.ptr)
	}
	var rec *Record
	if r.reuse {
		rec = &r.rec
		if err := decodeRecordInto(rec, a.buf, a.ptr, r.cfg.Layout, r.cfg.BlockSize); err != nil {
			return nil, err
		}
	} else {
		var err error
		if rec, err = DecodeRecord(a.buf, a.ptr, r.cfg.Layout, r.cfg.BlockSize); err != nil {
			return nil, err
		}
	}
	if rec.RmID == layout.RmgrXLOG && rec.Info&0xF0 == xlogSwitch {
		// The rest of the segment is unused: the next record starts at
		// the next segment.
		seg := uint64(r.cfg.SegSize)
		end = lsn.LSN((uint64(end) + seg - 1) / seg * seg)
	}
	rec.EndLSN = end
	return rec, nil
}

// checkHeader validates a record header as xlogreader's
// ValidXLogRecordHeader does.
func (r *Reader) checkHeader(h header, ptr lsn.LSN, randAccess bool, prevStart lsn.LSN) error {
	if h.totLen < recordHeaderSize {
		return invalidLength(ptr, h.totLen)
	}
	if !validRmgr(h.rmid, r.cfg.Layout) {
		return fmt.Errorf("invalid resource manager ID %d at %s", h.rmid, ptr)
	}
	if randAccess {
		// Any record before this one will do: we came from a pointer,
		// not from the previous record.
		if h.prev >= ptr {
			return fmt.Errorf("record with incorrect prev-link %s at %s", h.prev, ptr)
		}
	} else if h.prev != prevStart {
		return fmt.Errorf("record with incorrect prev-link %s at %s", h.prev, ptr)
	}
	return nil
}

// invalidLength reports a too-short xl_tot_len; zero is how the WAL ends.
func invalidLength(ptr lsn.LSN, got uint32) error {
	if got == 0 {
		return fmt.Errorf("invalid record length at %s: wanted %d, got 0: %w", ptr, recordHeaderSize, ErrEndOfWAL)
	}
	return fmt.Errorf("invalid record length at %s: wanted %d, got %d", ptr, recordHeaderSize, got)
}
