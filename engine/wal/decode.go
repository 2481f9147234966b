package wal

import (
	"encoding/binary"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Block-id values of the fragment headers that are not block references,
// and the fork_flags bits.
const (
	maxBlockID         = 32
	blockIDDataShort   = 255
	blockIDDataLong    = 254
	blockIDOrigin      = 253
	blockIDTopLevelXID = 252

	blockForkMask  = 0x0F
	blockHasImage  = 0x10
	blockHasData   = 0x20
	blockWillInit  = 0x40
	blockSameRel   = 0x80
	relFileNodeLen = 12
)

// header is the fixed XLogRecord header.
type header struct {
	totLen uint32
	xid    uint32
	prev   lsn.LSN
	info   uint8
	rmid   uint8
	crc    uint32
}

func decodeHeader(b []byte) header {
	return header{
		totLen: binary.LittleEndian.Uint32(b[0:]),
		xid:    binary.LittleEndian.Uint32(b[4:]),
		prev:   lsn.LSN(binary.LittleEndian.Uint64(b[8:])),
		info:   b[16],
		rmid:   b[17],
		crc:    binary.LittleEndian.Uint32(b[20:]),
	}
}

// cursor reads the packed, unaligned fragment headers of a record body.
type cursor struct {
	b   []byte
	pos int
	ok  bool
}

func (c *cursor) take(n int) []byte {
	if !c.ok || n > len(c.b)-c.pos {
		c.ok = false
		return nil
	}
	s := c.b[c.pos : c.pos+n]
	c.pos += n
	return s
}

func (c *cursor) u8() uint8 {
	if s := c.take(1); s != nil {
		return s[0]
	}
	return 0
}

func (c *cursor) u16() uint16 {
	if s := c.take(2); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if s := c.take(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

// DecodeRecord decodes a complete record (header and body, exactly
// xl_tot_len bytes) found at at. It checks the header length and the body's
// internal consistency but not the CRC or the prev-link, which need
// context; Reader does those. blockSize is BLCKSZ, needed to work out the
// hole of an uncompressed page image.
func DecodeRecord(rec []byte, at lsn.LSN, l *layout.Layout, blockSize uint32) (*Record, error) {
	if len(rec) < recordHeaderSize {
		return nil, fmt.Errorf("invalid record length at %s: wanted %d, got %d", at, recordHeaderSize, len(rec))
	}
	if h := decodeHeader(rec); int(h.totLen) != len(rec) {
		return nil, fmt.Errorf("invalid record length at %s: header says %d, got %d bytes", at, h.totLen, len(rec))
	}
	r := &Record{}
	if err := decodeRecordInto(r, rec, at, l, blockSize); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeRecordInto is DecodeRecord writing into r, whose Blocks array it
// reuses: the WAL scan decodes millions of records into one Record instead
// of allocating each. r's MainData points into rec.
func decodeRecordInto(r *Record, rec []byte, at lsn.LSN, l *layout.Layout, blockSize uint32) error {
	h := decodeHeader(rec)
	*r = Record{LSN: at, Prev: h.prev, TotalLen: h.totLen, XID: h.xid, Info: h.info, RmID: h.rmid, CRC: h.crc, Blocks: r.Blocks[:0]}
	c := &cursor{b: rec[recordHeaderSize:], ok: true}
	var mainLen uint32
	datatotal := uint64(0)
	var lastRel RelFileNode
	haveRel := false
	haveBlock := false
	var lastID uint8
headers:
	for c.ok && uint64(len(c.b)-c.pos) > datatotal {
		id := c.u8()
		switch {
		case id == blockIDDataShort:
			mainLen = uint32(c.u8())
		case id == blockIDDataLong:
			mainLen = c.u32()
		case id == blockIDOrigin:
			r.Origin = c.u16()
			r.HasOrigin = true
			continue
		case id == blockIDTopLevelXID && l.HasTopLevelXID:
			r.TopLevelXID = c.u32()
			r.HasTopLevelXID = true
			continue
		case id <= maxBlockID:
			if haveBlock && id <= lastID {
				return recordError(at, "out-of-order block_id %d", id)
			}
			haveBlock, lastID = true, id
			b, err := decodeBlock(c, id, at, l, blockSize, &lastRel, &haveRel)
			if err != nil {
				return err
			}
			datatotal += uint64(b.DataLen) + uint64(b.Image.Len)
			r.Blocks = append(r.Blocks, b)
			continue
		default:
			return recordError(at, "invalid block_id %d", id)
		}
		// Main data headers come last.
		datatotal += uint64(mainLen)
		break headers
	}
	if !c.ok {
		return recordError(at, "record with invalid length")
	}
	if uint64(len(c.b)-c.pos) != datatotal {
		return recordError(at, "record with invalid length")
	}
	// The payload follows the headers: per block, image then data; then
	// the main data.
	pos := c.pos
	for i := range r.Blocks {
		pos += int(r.Blocks[i].Image.Len) + int(r.Blocks[i].DataLen)
	}
	r.MainData = c.b[pos : pos+int(mainLen)]
	return nil
}

// decodeBlock reads one block reference header after its id byte.
func decodeBlock(c *cursor, id uint8, at lsn.LSN, l *layout.Layout, blockSize uint32, lastRel *RelFileNode, haveRel *bool) (BlockRef, error) {
	b := BlockRef{ID: id}
	b.Flags = c.u8()
	b.Fork = ForkNumber(b.Flags & blockForkMask)
	b.HasImage = b.Flags&blockHasImage != 0
	b.HasData = b.Flags&blockHasData != 0
	b.WillInit = b.Flags&blockWillInit != 0
	b.DataLen = c.u16()
	if !c.ok {
		return b, recordError(at, "record with invalid length")
	}
	if b.HasData && b.DataLen == 0 {
		return b, recordError(at, "BKPBLOCK_HAS_DATA set, but no data included")
	}
	if !b.HasData && b.DataLen != 0 {
		return b, recordError(at, "BKPBLOCK_HAS_DATA not set, but data length is %d", b.DataLen)
	}
	if b.HasImage {
		if err := decodeImage(c, &b.Image, at, l, blockSize); err != nil {
			return b, err
		}
	}
	if b.Flags&blockSameRel == 0 {
		raw := c.take(relFileNodeLen)
		if raw == nil {
			return b, recordError(at, "record with invalid length")
		}
		*lastRel = RelFileNode{
			Spc: binary.LittleEndian.Uint32(raw[0:]),
			DB:  binary.LittleEndian.Uint32(raw[4:]),
			Rel: binary.LittleEndian.Uint32(raw[8:]),
		}
		*haveRel = true
	} else if !*haveRel {
		return b, recordError(at, "BKPBLOCK_SAME_REL set but no previous rel")
	}
	b.Rel = *lastRel
	b.BlockNo = c.u32()
	if !c.ok {
		return b, recordError(at, "record with invalid length")
	}
	return b, nil
}

// decodeImage reads a full-page image header and applies xlogreader's
// consistency rules, with the version's bimg_info bits.
func decodeImage(c *cursor, img *BlockImage, at lsn.LSN, l *layout.Layout, blockSize uint32) error {
	bits := l.Image
	img.Len = c.u16()
	img.HoleOffset = c.u16()
	img.Info = c.u8()
	img.HasHole = img.Info&bits.HasHole != 0
	img.Apply = img.Info&bits.Apply != 0
	img.Compressed = img.Info&bits.Compressed != 0
	switch {
	case img.Compressed && img.HasHole:
		img.HoleLength = c.u16()
	case !img.Compressed:
		img.HoleLength = uint16(blockSize - uint32(img.Len))
	}
	if !c.ok {
		return recordError(at, "record with invalid length")
	}
	if img.HasHole && (img.HoleOffset == 0 || img.HoleLength == 0 || uint32(img.Len) == blockSize) {
		return recordError(at, "BKPIMAGE_HAS_HOLE set, but hole offset %d length %d block image length %d",
			img.HoleOffset, img.HoleLength, img.Len)
	}
	if !img.HasHole && (img.HoleOffset != 0 || img.HoleLength != 0) {
		return recordError(at, "BKPIMAGE_HAS_HOLE not set, but hole offset %d length %d", img.HoleOffset, img.HoleLength)
	}
	if img.Compressed && uint32(img.Len) == blockSize {
		return recordError(at, "BKPIMAGE_COMPRESSED set, but block image length %d", img.Len)
	}
	if !img.HasHole && !img.Compressed && uint32(img.Len) != blockSize {
		return recordError(at, "neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, but block image length is %d", img.Len)
	}
	return nil
}

// validRmgr reports whether rmid names a resource manager of the version.
func validRmgr(rmid uint8, l *layout.Layout) bool {
	return rmid <= l.MaxBuiltinRmgr || (l.HasCustomRmgrs && rmid >= 128)
}

// String describes the record briefly, in pg_waldump's terms.
func (r *Record) String() string {
	return fmt.Sprintf("rmgr: %s len (rec/tot): %d/%d, tx: %d, lsn: %s, prev %s",
		RmgrName(r.RmID), int(r.TotalLen)-r.ImageLen(), r.TotalLen, r.XID, r.LSN, r.Prev)
}
