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
	ps := uint64(r.cfg.PageSize)
restart:
	off := uint32(uint64(ptr) % ps)
	pageAddr := ptr - lsn.LSN(off)
	page, hdr, err := r.readPage(ctx, pageAddr)
	if err != nil {
		return nil, err
	}
	hs := hdr.size()
	if off == 0 {
		ptr += lsn.LSN(hs)
		off = hs
	} else if off < hs {
		return nil, fmt.Errorf("invalid record offset at %s: expected at least %d, got %d", ptr, hs, off)
	}
	if hdr.info&pageFirstIsContRecord != 0 && off == hs {
		return nil, fmt.Errorf("contrecord is requested by %s", ptr)
	}
	avail := r.cfg.PageSize - off
	totLen := binary.LittleEndian.Uint32(page[off:])
	var h header
	gotHeader := false
	if avail >= recordHeaderSize {
		h = decodeHeader(page[off:])
		if err := r.checkHeader(h, ptr, randAccess, prevStart); err != nil {
			return nil, err
		}
		gotHeader = true
	} else if totLen < recordHeaderSize {
		return nil, invalidLength(ptr, totLen)
	}
	if totLen > maxRecordLen {
		return nil, fmt.Errorf("record length %d at %s too long", totLen, ptr)
	}
	// Grow the buffer with the data actually read, so that a corrupt
	// length cannot make us allocate before the page headers disagree.
	take := min(avail, totLen)
	buf := make([]byte, 0, take)
	buf = append(buf, page[off:off+take]...)
	var end lsn.LSN
	if take == totLen {
		end = ptr + lsn.LSN(maxAlign(uint64(totLen)))
	} else {
		pagePtr := pageAddr
		for uint32(len(buf)) < totLen {
			pagePtr += lsn.LSN(ps)
			page, hdr, err = r.readPage(ctx, pagePtr)
			if err != nil {
				return nil, err
			}
			if hdr.info&pageFirstIsOverwriteContRecord != 0 {
				// The record was never finished: a crash cut it off
				// and the server wrote an XLOG_OVERWRITE_CONTRECORD
				// at the start of this page. Read that instead.
				ptr = pagePtr
				goto restart
			}
			if hdr.info&pageFirstIsContRecord == 0 {
				return nil, fmt.Errorf("there is no contrecord flag at %s", pagePtr)
			}
			got := uint32(len(buf))
			if hdr.remLen == 0 || totLen != hdr.remLen+got {
				return nil, fmt.Errorf("invalid contrecord length %d (expected %d) at %s", hdr.remLen, totLen-got, pagePtr)
			}
			phs := hdr.size()
			n := min(r.cfg.PageSize-phs, totLen-got)
			buf = append(buf, page[phs:phs+n]...)
			if !gotHeader && len(buf) >= recordHeaderSize {
				h = decodeHeader(buf)
				if err := r.checkHeader(h, ptr, randAccess, prevStart); err != nil {
					return nil, err
				}
				gotHeader = true
			}
			end = pagePtr + lsn.LSN(phs) + lsn.LSN(maxAlign(uint64(hdr.remLen)))
		}
	}
	if recordCRC(buf) != h.crc {
		return nil, fmt.Errorf("incorrect resource manager data checksum in record at %s", ptr)
	}
	rec, err := DecodeRecord(buf, ptr, r.cfg.Layout, r.cfg.BlockSize)
	if err != nil {
		return nil, err
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
