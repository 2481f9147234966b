package wal

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// rawRecord wraps a body in a record header with a matching length.
func rawRecord(rmid uint8, body []byte) []byte {
	rec := make([]byte, recordHeaderSize, recordHeaderSize+len(body))
	rec = append(rec, body...)
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(rec)))
	rec[17] = rmid
	return rec
}

// blockHeader builds a block reference header.
type blockHeader struct {
	id, flags  uint8
	dataLen    uint16
	image      []byte // bimg_len, hole_offset, bimg_info[, hole_length]
	rel        *RelFileNode
	blkno      uint32
	payloadLen int
}

func (h blockHeader) bytes() []byte {
	b := []byte{h.id, h.flags}
	b = binary.LittleEndian.AppendUint16(b, h.dataLen)
	b = append(b, h.image...)
	if h.rel != nil {
		b = binary.LittleEndian.AppendUint32(b, h.rel.Spc)
		b = binary.LittleEndian.AppendUint32(b, h.rel.DB)
		b = binary.LittleEndian.AppendUint32(b, h.rel.Rel)
	}
	return binary.LittleEndian.AppendUint32(b, h.blkno)
}

func image(bimgLen, holeOffset uint16, info uint8, holeLen ...uint16) []byte {
	b := binary.LittleEndian.AppendUint16(nil, bimgLen)
	b = binary.LittleEndian.AppendUint16(b, holeOffset)
	b = append(b, info)
	for _, h := range holeLen {
		b = binary.LittleEndian.AppendUint16(b, h)
	}
	return b
}

func TestDecodeRecord(t *testing.T) {
	l15 := layout15()
	l14, _ := layout.Table(14)
	rel := &testRel
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	pad := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name    string
		l       *layout.Layout
		body    []byte
		wantErr string
		check   func(t *testing.T, r *Record)
	}{
		{
			name: "two blocks, SAME_REL, origin, toplevel xid, long main data",
			l:    l15,
			body: cat(
				blockHeader{id: 0, flags: blockHasData, dataLen: 3, rel: rel, blkno: 7}.bytes(),
				blockHeader{id: 2, flags: blockSameRel | byte(VMFork), blkno: 1}.bytes(),
				[]byte{blockIDOrigin, 9, 0, blockIDTopLevelXID, 0x2A, 0, 0, 0},
				[]byte{blockIDDataLong, 4, 0, 0, 0}, []byte("abc"), []byte("main")),
			check: func(t *testing.T, r *Record) {
				if len(r.Blocks) != 2 || r.Blocks[1].Rel != testRel || r.Blocks[1].Fork != VMFork || r.Blocks[1].ID != 2 {
					t.Errorf("blocks %+v", r.Blocks)
				}
				if !r.HasOrigin || r.Origin != 9 || !r.HasTopLevelXID || r.TopLevelXID != 42 || string(r.MainData) != "main" {
					t.Errorf("record %+v", r)
				}
			},
		},
		{
			name: "15 image with hole",
			l:    l15,
			body: cat(blockHeader{id: 0, flags: blockHasImage, image: image(100, 40, 0x01|0x02), rel: rel}.bytes(), pad(100)),
			check: func(t *testing.T, r *Record) {
				img := r.Blocks[0].Image
				if !img.HasHole || !img.Apply || img.Compressed || img.HoleOffset != 40 || img.HoleLength != 8092 || r.ImageLen() != 100 {
					t.Errorf("image %+v", img)
				}
			},
		},
		{
			name: "15 lz4 image with hole",
			l:    l15,
			body: cat(blockHeader{id: 0, flags: blockHasImage, image: image(50, 40, 0x01|0x02|0x08, 1000), rel: rel}.bytes(), pad(50)),
			check: func(t *testing.T, r *Record) {
				img := r.Blocks[0].Image
				if !img.Compressed || img.HoleLength != 1000 {
					t.Errorf("image %+v", img)
				}
			},
		},
		{
			name: "14 bit 0x02 is compression",
			l:    l14,
			body: cat(blockHeader{id: 0, flags: blockHasImage, image: image(50, 0, 0x02|0x04), rel: rel}.bytes(), pad(50)),
			check: func(t *testing.T, r *Record) {
				if img := r.Blocks[0].Image; !img.Compressed || !img.Apply || img.HasHole {
					t.Errorf("image %+v", img)
				}
			},
		},
		{
			name:    "15 bit 0x02 is apply, so a short image is inconsistent",
			l:       l15,
			body:    cat(blockHeader{id: 0, flags: blockHasImage, image: image(50, 0, 0x02), rel: rel}.bytes(), pad(50)),
			wantErr: "BKPIMAGE_HAS_HOLE not set, but hole offset 0 length 8142 at 0/100",
		},
		{
			name:    "hole without offset",
			l:       l15,
			body:    cat(blockHeader{id: 0, flags: blockHasImage, image: image(100, 0, 0x01), rel: rel}.bytes(), pad(100)),
			wantErr: "BKPIMAGE_HAS_HOLE set, but hole offset 0 length 8092 block image length 100",
		},
		{
			name:    "compressed full-size image",
			l:       l15,
			body:    cat(blockHeader{id: 0, flags: blockHasImage, image: image(8192, 0, 0x04), rel: rel}.bytes(), pad(8192)),
			wantErr: "BKPIMAGE_COMPRESSED set, but block image length 8192",
		},
		{
			name:    "has data without data",
			l:       l15,
			body:    blockHeader{id: 0, flags: blockHasData, rel: rel}.bytes(),
			wantErr: "BKPBLOCK_HAS_DATA set, but no data included at 0/100",
		},
		{
			name:    "data without has data",
			l:       l15,
			body:    cat(blockHeader{id: 0, dataLen: 5, rel: rel}.bytes(), pad(5)),
			wantErr: "BKPBLOCK_HAS_DATA not set, but data length is 5 at 0/100",
		},
		{
			name:    "same rel first",
			l:       l15,
			body:    blockHeader{id: 0, flags: blockSameRel}.bytes(),
			wantErr: "BKPBLOCK_SAME_REL set but no previous rel at 0/100",
		},
		{
			name:    "out of order",
			l:       l15,
			body:    cat(blockHeader{id: 3, rel: rel}.bytes(), blockHeader{id: 3, rel: rel}.bytes()),
			wantErr: "out-of-order block_id 3 at 0/100",
		},
		{
			name:    "invalid block id",
			l:       l15,
			body:    []byte{100, 0},
			wantErr: "invalid block_id 100 at 0/100",
		},
		{
			name:    "toplevel xid before 14",
			l:       func() *layout.Layout { l, _ := layout.Table(13); return l }(),
			body:    []byte{blockIDTopLevelXID, 1, 0, 0, 0},
			wantErr: "invalid block_id 252",
		},
		{
			name:    "main data longer than the record",
			l:       l15,
			body:    []byte{blockIDDataShort, 10, 1, 2},
			wantErr: "record with invalid length at 0/100",
		},
		{
			name:    "trailing bytes",
			l:       l15,
			body:    []byte{blockIDDataShort, 1, 1, 2},
			wantErr: "record with invalid length at 0/100",
		},
		{
			name:    "truncated block header",
			l:       l15,
			body:    []byte{0, blockHasData, 5},
			wantErr: "record with invalid length at 0/100",
		},
		{
			name:    "huge long main data",
			l:       l15,
			body:    []byte{blockIDDataLong, 0xFF, 0xFF, 0xFF, 0xFF},
			wantErr: "record with invalid length at 0/100",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRecord(rawRecord(rmHeap, tt.body), 0x100, tt.l, 8192)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	rel := &testRel
	f.Add(blockBody(testRel, 7, []byte("abc"), []byte("main")), false)
	f.Add(append(blockHeader{id: 0, flags: blockHasImage, image: image(100, 40, 0x03), rel: rel}.bytes(), make([]byte, 100)...), false)
	f.Add(append(blockHeader{id: 0, flags: blockHasImage, image: image(50, 40, 0x0B, 10), rel: rel}.bytes(), make([]byte, 50)...), true)
	f.Add([]byte{blockIDOrigin, 1, 0, blockIDTopLevelXID, 1, 0, 0, 0, blockIDDataShort, 0}, true)
	l15 := layout15()
	l14, _ := layout.Table(14)
	f.Fuzz(func(t *testing.T, body []byte, pre15 bool) {
		l := l15
		if pre15 {
			l = l14
		}
		rec := rawRecord(rmHeap, body)
		r, err := DecodeRecord(rec, 0x100, l, 8192)
		if err != nil {
			return
		}
		if len(r.Blocks) > maxBlockID+1 || len(r.MainData) > len(rec) {
			t.Fatalf("decoded %d blocks, %d bytes of main data from %d bytes", len(r.Blocks), len(r.MainData), len(rec))
		}
		payload := len(r.MainData)
		for _, b := range r.Blocks {
			payload += int(b.DataLen) + int(b.Image.Len)
		}
		if payload > len(body) {
			t.Fatalf("payload %d exceeds body %d", payload, len(body))
		}
	})
}

// FuzzDecodePage replaces one page of a valid synthetic WAL with fuzz input
// and reads through it: corrupt pages must give errors, never panics or
// endless loops.
func FuzzDecodePage(f *testing.F) {
	l := layout15()
	b := newBuilder(l, testSegSize)
	for i := range 20 {
		b.add(21, 0, 0, mainData(make([]byte, 3000+i*100)))
	}
	good := b.segs[1]
	f.Add(append([]byte(nil), good[testPageSize:2*testPageSize]...), uint8(1))
	f.Add(append([]byte(nil), good[:testPageSize]...), uint8(0))
	f.Add([]byte{}, uint8(2))
	f.Fuzz(func(t *testing.T, page []byte, which uint8) {
		seg := append([]byte(nil), good...)
		idx := int(which) % 8
		p := make([]byte, testPageSize)
		copy(p, page)
		copy(seg[idx*testPageSize:], p)
		b2 := &walBuilder{l: l, segs: map[lsn.SegNo][]byte{1: seg}}
		r := b2.reader(l)
		r.Seek(testSegSize)
		for range 100 {
			if _, err := r.Next(t.Context()); err != nil {
				return
			}
		}
	})
}
