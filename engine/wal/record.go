package wal

import (
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Record header layout (XLogRecord, SizeOfXLogRecord) and generic xl_info
// flags.
const (
	recordHeaderSize = 24
	crcOffset        = 20

	// InfoSpecialRelUpdate (XLR_SPECIAL_REL_UPDATE) marks a record that
	// changes relation files in a way its block references do not show.
	InfoSpecialRelUpdate = 0x01
	// InfoCheckConsistency (XLR_CHECK_CONSISTENCY) asks redo to compare
	// pages with the images in the record.
	InfoCheckConsistency = 0x02
)

// Record is one decoded WAL record: its place in the WAL, its header, and
// the rmgr-independent part of its body.
type Record struct {
	// LSN is where the record starts (ReadRecPtr).
	LSN lsn.LSN
	// EndLSN is where the next record starts (EndRecPtr): the MAXALIGNed
	// end of this one, or the next segment's start after XLOG_SWITCH. A
	// history file's switch point is such an end.
	EndLSN lsn.LSN
	// Prev is xl_prev, the start of the previous record.
	Prev lsn.LSN
	// TotalLen is xl_tot_len: header, fragment headers and payload.
	TotalLen uint32
	// XID is xl_xid, the transaction that wrote the record (0 if none).
	XID uint32
	// Info is xl_info: the rmgr's opcode in the high bits and the generic
	// flags in the low bits.
	Info uint8
	// RmID is the resource manager ID.
	RmID uint8
	// CRC is xl_crc, already checked.
	CRC uint32
	// Origin is the replication origin, valid when HasOrigin.
	Origin    uint16
	HasOrigin bool
	// TopLevelXID is the top-level transaction of a subtransaction's
	// first record (14+), valid when HasTopLevelXID.
	TopLevelXID    uint32
	HasTopLevelXID bool
	// Blocks are the block references, in block-id order.
	Blocks []BlockRef
	// MainData is the rmgr-specific main data, e.g. a CheckPoint.
	MainData []byte
}

// ImageLen returns the bytes of full-page images in the record, which
// pg_waldump subtracts from TotalLen to print the "rec" length.
func (r *Record) ImageLen() int {
	n := 0
	for _, b := range r.Blocks {
		if b.HasImage {
			n += int(b.Image.Len)
		}
	}
	return n
}

// ForkNumber says which file of a relation a block belongs to.
type ForkNumber uint8

// The relation forks.
const (
	MainFork ForkNumber = 0
	FSMFork  ForkNumber = 1
	VMFork   ForkNumber = 2
	InitFork ForkNumber = 3
)

// String names the fork as pg_waldump and file-name suffixes do.
func (f ForkNumber) String() string {
	switch f {
	case MainFork:
		return "main"
	case FSMFork:
		return "fsm"
	case VMFork:
		return "vm"
	case InitFork:
		return "init"
	}
	return "invalid"
}

// RelFileNode identifies a relation's files: tablespace, database and
// relfilenode (RelFileLocator in 16+, same bytes).
type RelFileNode struct {
	Spc, DB, Rel uint32
}

// BlockRef is one block reference of a record: a page of a relation fork
// that the record changes.
type BlockRef struct {
	// ID is the block id within the record, 0 to 32.
	ID uint8
	// Fork, Rel and BlockNo name the page.
	Fork    ForkNumber
	Rel     RelFileNode
	BlockNo uint32
	// Flags is the raw fork_flags byte.
	Flags uint8
	// WillInit says redo rebuilds the page from scratch.
	WillInit bool
	// HasData and DataLen describe the rmgr-specific block data.
	HasData bool
	DataLen uint16
	// HasImage says the record carries a full-page image, described by
	// Image.
	HasImage bool
	Image    BlockImage
}

// BlockImage is the header of a full-page image.
type BlockImage struct {
	// Len is bimg_len, the stored (possibly compressed) length.
	Len uint16
	// HoleOffset and HoleLength locate the omitted free space.
	HoleOffset, HoleLength uint16
	// Info is the raw bimg_info byte; its bits depend on the major version.
	Info uint8
	// HasHole, Apply and Compressed decode Info with the version's bits.
	HasHole, Apply, Compressed bool
}
