package wal

import (
	"encoding/binary"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Page header sizes (SizeOfXLogShortPHD, SizeOfXLogLongPHD) and xlp_info
// flags.
const (
	shortPageHeaderSize = 24
	longPageHeaderSize  = 40

	pageFirstIsContRecord          = 0x0001
	pageLongHeader                 = 0x0002
	pageFirstIsOverwriteContRecord = 0x0008
	pageAllFlags                   = 0x000F
)

// pageHeader is XLogPageHeaderData, plus the long-header fields when the
// LONG_HEADER flag is set.
type pageHeader struct {
	magic    uint16
	info     uint16
	tli      lsn.TimeLineID
	pageAddr lsn.LSN
	remLen   uint32
	sysid    uint64
	segSize  uint32
	blcksz   uint32
}

func (h *pageHeader) size() uint32 {
	if h.info&pageLongHeader != 0 {
		return longPageHeaderSize
	}
	return shortPageHeaderSize
}

// decodePageHeader reads a page header; the page must be at least a long
// header in size.
func decodePageHeader(page []byte) pageHeader {
	h := pageHeader{
		magic:    binary.LittleEndian.Uint16(page[0:]),
		info:     binary.LittleEndian.Uint16(page[2:]),
		tli:      lsn.TimeLineID(binary.LittleEndian.Uint32(page[4:])),
		pageAddr: lsn.LSN(binary.LittleEndian.Uint64(page[8:])),
		remLen:   binary.LittleEndian.Uint32(page[16:]),
	}
	if h.info&pageLongHeader != 0 {
		h.sysid = binary.LittleEndian.Uint64(page[24:])
		h.segSize = binary.LittleEndian.Uint32(page[32:])
		h.blcksz = binary.LittleEndian.Uint32(page[36:])
	}
	return h
}

// isZero reports whether the page header was never written: the page lies
// beyond the end of WAL in a preallocated or switched-out segment.
func isZero(page []byte) bool {
	for _, b := range page[:shortPageHeaderSize] {
		if b != 0 {
			return false
		}
	}
	return true
}

// validatePage checks a page header the way xlogreader does. addr is the
// LSN of the page, name its segment file. The checks catch a segment from
// another cluster (sysid), another build (magic, sizes), a recycled segment
// whose old content is still there (pageaddr), and timeline regressions.
func (r *Reader) validatePage(page []byte, addr lsn.LSN, name string) (pageHeader, error) {
	h := decodePageHeader(page)
	off := addr.SegmentOffset(r.cfg.SegSize)
	where := func() string {
		return fmt.Sprintf("in WAL segment %s, LSN %s, offset %d", name, addr, off)
	}
	if isZero(page) {
		// Preallocated or switched-out space: nothing was written here.
		return h, fmt.Errorf("invalid magic number 0000 %s: %w", where(), ErrEndOfWAL)
	}
	if h.magic != r.cfg.Layout.PageMagic {
		return h, fmt.Errorf("invalid magic number %04X %s", h.magic, where())
	}
	if h.info&^pageAllFlags != 0 {
		return h, fmt.Errorf("invalid info bits %04X %s", h.info, where())
	}
	if h.info&pageLongHeader != 0 {
		if h.sysid != r.cfg.SystemID {
			return h, fmt.Errorf("WAL file is from different database system: WAL file database system identifier is %d, pg_control database system identifier is %d (segment %s)",
				h.sysid, r.cfg.SystemID, name)
		}
		if h.segSize != r.cfg.SegSize {
			return h, fmt.Errorf("WAL file is from different database system: incorrect segment size %d in page header, want %d (segment %s)", h.segSize, r.cfg.SegSize, name)
		}
		if h.blcksz != r.cfg.PageSize {
			return h, fmt.Errorf("WAL file is from different database system: incorrect XLOG_BLCKSZ %d in page header, want %d (segment %s)", h.blcksz, r.cfg.PageSize, name)
		}
	} else if off == 0 {
		// The first page of a segment must carry the long header.
		return h, fmt.Errorf("invalid info bits %04X %s", h.info, where())
	}
	if h.pageAddr != addr {
		return h, fmt.Errorf("unexpected pageaddr %s %s: the segment file looks recycled (it still holds old WAL for %s)",
			h.pageAddr, where(), h.pageAddr)
	}
	// A child timeline's ID is always larger than its parent's, so the TLI
	// never goes down along the WAL. Re-reads of earlier pages are exempt.
	if addr > r.latestPagePtr {
		if h.tli < r.latestPageTLI {
			return h, fmt.Errorf("out-of-sequence timeline ID %d (after %d) %s", h.tli, r.latestPageTLI, where())
		}
	}
	r.latestPagePtr = addr
	r.latestPageTLI = h.tli
	return h, nil
}
