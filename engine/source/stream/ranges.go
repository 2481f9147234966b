package stream

import (
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/source"
)

// rangeWhole flags a whole-file range in a ranges frame.
const rangeWhole byte = 1

// Merge joins each range to the one before it when both are parts of the
// same file and the second starts where the first ends, as the changed
// blocks of a relation usually do: one request then stands for a run of
// blocks. Whole-file ranges are kept as they are. The server answers a
// merged range in pieces of at most MaxPiece bytes all the same.
func Merge(ranges []source.Range) []source.Range {
	out := make([]source.Range, 0, len(ranges))
	for _, r := range ranges {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			if !prev.Whole && !r.Whole && prev.Path == r.Path && prev.Offset+prev.Length == r.Offset {
				prev.Length += r.Length
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// encodeRanges is a ranges frame's payload.
func encodeRanges(rs []source.Range) []byte {
	e := encoder{}
	e.u32(uint32(len(rs)))
	for _, r := range rs {
		var flags byte
		if r.Whole {
			flags |= rangeWhole
		}
		e.u8(flags)
		e.i64(r.Offset)
		e.i64(r.Length)
		e.str16(r.Path)
	}
	return e.b
}

// decodeRanges reads a ranges frame's payload and checks each range's
// numbers; paths are checked when they are opened.
func decodeRanges(p []byte) ([]source.Range, error) {
	d := decoder{b: p}
	n := d.u32()
	if d.bad || n > maxRangesPerFrame {
		return nil, fmt.Errorf("ranges frame announces %d ranges", n)
	}
	rs := make([]source.Range, 0, n)
	for range n {
		flags := d.u8()
		r := source.Range{Offset: d.i64(), Length: d.i64(), Path: d.str16(), Whole: flags&rangeWhole != 0}
		if d.bad {
			break
		}
		if r.Offset < 0 || r.Length < 0 || r.Whole && r.Offset != 0 {
			return nil, fmt.Errorf("bad range %q offset %d length %d", r.Path, r.Offset, r.Length)
		}
		rs = append(rs, r)
	}
	return rs, d.done("ranges")
}

// piece is one data frame: a part of a range's answer.
type piece struct {
	path   string
	offset int64
	flags  byte
	data   []byte
}

// dataFrame appends to b a data frame's headers for n bytes of data that
// follow them (the caller puts the data there).
func dataFrame(b []byte, path string, off int64, flags byte, n int) []byte {
	e := encoder{b: b}
	e.u8(frameData)
	e.u32(uint32(1 + 8 + 2 + len(path) + n))
	e.u8(flags)
	e.i64(off)
	e.str16(path)
	return e.b
}

// decodePiece reads a data frame's payload; the data aliases it.
func decodePiece(b []byte) (piece, error) {
	d := decoder{b: b}
	p := piece{flags: d.u8(), offset: d.i64(), path: d.str16()}
	p.data = d.rest()
	if d.bad {
		return p, fmt.Errorf("truncated data frame")
	}
	if len(p.data) > MaxPiece {
		return p, fmt.Errorf("data frame of %d bytes, more than %d", len(p.data), MaxPiece)
	}
	if p.flags&pieceVanished != 0 && (len(p.data) != 0 || p.flags&pieceLast == 0) {
		return p, fmt.Errorf("vanished-file frame for %q with data or not last", p.path)
	}
	if p.flags&pieceRefused != 0 && (p.flags&pieceLast == 0 || p.flags&pieceVanished != 0) {
		return p, fmt.Errorf("refused-file frame for %q not last, or vanished too", p.path)
	}
	return p, nil
}
