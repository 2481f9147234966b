package wal

import (
	"context"
	"encoding/binary"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

// Synthetic WAL for unit tests: small segments, real page and record
// formats, so that the reader's corner cases can be built on purpose.
const (
	testSegSize  = 1 << 20
	testPageSize = 8192
	testSysID    = 7712701471541753701
)

// walBuilder writes records into in-memory segments the way the server's
// WAL insertion does: 8-byte aligned, page headers at every page start, and
// continuation flags on pages that carry the rest of a record.
type walBuilder struct {
	l    *layout.Layout
	tli  lsn.TimeLineID
	segs map[lsn.SegNo][]byte
	pos  lsn.LSN
	prev lsn.LSN
	// nextPageInfo is extra xlp_info for the next page header written.
	nextPageInfo uint16
}

func newBuilder(l *layout.Layout, start lsn.LSN) *walBuilder {
	return &walBuilder{l: l, tli: 1, segs: map[lsn.SegNo][]byte{}, pos: start}
}

func (b *walBuilder) seg(p lsn.LSN) []byte {
	s := p.Segment(testSegSize)
	if b.segs[s] == nil {
		b.segs[s] = make([]byte, testSegSize)
	}
	return b.segs[s]
}

// pageHeader writes the header of the page starting at b.pos.
func (b *walBuilder) pageHeader(remLen uint32) {
	seg := b.seg(b.pos)
	off := b.pos.SegmentOffset(testSegSize)
	info := b.nextPageInfo
	b.nextPageInfo = 0
	if remLen > 0 {
		info |= pageFirstIsContRecord
	}
	hs := uint32(shortPageHeaderSize)
	if off == 0 {
		info |= pageLongHeader
		hs = longPageHeaderSize
		binary.LittleEndian.PutUint64(seg[off+24:], testSysID)
		binary.LittleEndian.PutUint32(seg[off+32:], testSegSize)
		binary.LittleEndian.PutUint32(seg[off+36:], testPageSize)
	}
	binary.LittleEndian.PutUint16(seg[off:], b.l.PageMagic)
	binary.LittleEndian.PutUint16(seg[off+2:], info)
	binary.LittleEndian.PutUint32(seg[off+4:], uint32(b.tli))
	binary.LittleEndian.PutUint64(seg[off+8:], uint64(b.pos))
	binary.LittleEndian.PutUint32(seg[off+16:], remLen)
	b.pos += lsn.LSN(hs)
}

// write lays data out from b.pos, adding page headers; the first page
// header of a record start has no continuation flag. If stopAtPage, it
// writes only what fits on the current page and returns the rest.
func (b *walBuilder) write(data []byte, stopAtPage bool) []byte {
	first := true
	total := uint32(len(data))
	written := uint32(0)
	for len(data) > 0 {
		if b.pos%testPageSize == 0 {
			if stopAtPage && !first {
				return data
			}
			rem := uint32(0)
			if !first || written > 0 {
				rem = total - written
			}
			b.pageHeader(rem)
		}
		first = false
		off := b.pos.SegmentOffset(testSegSize)
		n := min(uint32(testPageSize)-uint32(b.pos%testPageSize), uint32(len(data)))
		copy(b.seg(b.pos)[off:], data[:n])
		data = data[n:]
		written += n
		b.pos += lsn.LSN(n)
	}
	return nil
}

// record builds a complete record: header, then body (fragment headers
// and payload), with a correct CRC and prev-link.
func (b *walBuilder) record(rmid, info uint8, xid uint32, body []byte) []byte {
	rec := make([]byte, recordHeaderSize+len(body))
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(rec)))
	binary.LittleEndian.PutUint32(rec[4:], xid)
	binary.LittleEndian.PutUint64(rec[8:], uint64(b.prev))
	rec[16] = info
	rec[17] = rmid
	copy(rec[recordHeaderSize:], body)
	binary.LittleEndian.PutUint32(rec[20:], recordCRC(rec))
	return rec
}

// add appends a record and returns its LSN.
func (b *walBuilder) add(rmid, info uint8, xid uint32, body []byte) lsn.LSN {
	if b.pos%testPageSize == 0 {
		b.pageHeader(0)
	}
	start := b.pos
	b.write(b.record(rmid, info, xid, body), false)
	b.pos = lsn.LSN(maxAlign(uint64(b.pos)))
	b.prev = start
	return start
}

// addTorn writes only the part of a record that fits on the current page,
// as a crash would leave it, and marks the next page as overwriting it.
func (b *walBuilder) addTorn(rmid, info uint8, body []byte) lsn.LSN {
	if b.pos%testPageSize == 0 {
		b.pageHeader(0)
	}
	start := b.pos
	b.write(b.record(rmid, info, 0, body), true)
	b.nextPageInfo = pageFirstIsOverwriteContRecord
	return start
}

// mainData returns a body holding only main data.
func mainData(d []byte) []byte {
	if len(d) < 256 {
		return append([]byte{blockIDDataShort, byte(len(d))}, d...)
	}
	h := []byte{blockIDDataLong, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[1:], uint32(len(d)))
	return append(h, d...)
}

// blockBody returns a body with one main-fork block reference with data,
// plus main data.
func blockBody(rel RelFileNode, blk uint32, data, main []byte) []byte {
	var b []byte
	b = append(b, 0, blockHasData|byte(MainFork))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(data)))
	b = binary.LittleEndian.AppendUint32(b, rel.Spc)
	b = binary.LittleEndian.AppendUint32(b, rel.DB)
	b = binary.LittleEndian.AppendUint32(b, rel.Rel)
	b = binary.LittleEndian.AppendUint32(b, blk)
	b = append(b, blockIDDataShort, byte(len(main)))
	b = append(b, data...)
	return append(b, main...)
}

// memSource serves the builder's segments as timeline-1 files.
type memSource struct {
	segs map[lsn.SegNo][]byte
}

func (m memSource) ReadPage(ctx context.Context, tli lsn.TimeLineID, seg lsn.SegNo, off uint32, buf []byte) error {
	s, ok := m.segs[seg]
	if !ok {
		return &MissingSegmentError{Dir: "mem", Name: lsn.SegmentName(tli, seg, testSegSize), Err: errNoSuchSegment}
	}
	copy(buf, s[off:])
	return nil
}

var errNoSuchSegment = errorString("no such segment")

type errorString string

func (e errorString) Error() string { return string(e) }

func (b *walBuilder) reader(l *layout.Layout) *Reader {
	r, err := NewReader(Config{
		Source: memSource{segs: b.segs}, History: timeline.Single(1), Layout: l,
		SystemID: testSysID, SegSize: testSegSize, PageSize: testPageSize, BlockSize: 8192,
	})
	if err != nil {
		panic(err)
	}
	return r
}

func layout15() *layout.Layout {
	l, err := layout.For(15)
	if err != nil {
		panic(err)
	}
	return l
}
