package lsn

import (
	"fmt"
	"strconv"
)

// SegNo numbers WAL segments from the start of the WAL stream: segment n
// holds the bytes [n*segSize, (n+1)*segSize).
type SegNo uint64

// Segment returns the number of the segment that holds p.
func (p LSN) Segment(segSize uint32) SegNo {
	return SegNo(uint64(p) / uint64(segSize))
}

// SegmentOffset returns p's byte offset inside its segment file.
func (p LSN) SegmentOffset(segSize uint32) uint32 {
	return uint32(uint64(p) % uint64(segSize))
}

// Start returns the LSN of the first byte of segment s.
func (s SegNo) Start(segSize uint32) LSN {
	return LSN(uint64(s) * uint64(segSize))
}

// ValidSegmentSize reports whether size is a WAL segment size PostgreSQL
// accepts: a power of two from 1 MiB to 1 GiB.
func ValidSegmentSize(size uint32) bool {
	return size >= 1<<20 && size <= 1<<30 && size&(size-1) == 0
}

// segmentsPerXLogID is how many segments share one value of the middle
// eight hex digits of a file name; the name splits the segment number on
// 4 GiB boundaries, a leftover of the old "log id" naming.
func segmentsPerXLogID(segSize uint32) uint64 {
	return 0x100000000 / uint64(segSize)
}

// SegmentName returns the 24-hex-digit file name of segment s on timeline
// tli, for example 000000010000000000000008.
func SegmentName(tli TimeLineID, s SegNo, segSize uint32) string {
	per := segmentsPerXLogID(segSize)
	var b [24]byte
	putHex8(b[0:8], uint32(tli))
	putHex8(b[8:16], uint32(uint64(s)/per))
	putHex8(b[16:24], uint32(uint64(s)%per))
	return string(b[:])
}

// ParseSegmentName reads a segment file name back into its timeline and
// segment number. It refuses names that SegmentName would not produce, such
// as lowercase digits, suffixes like ".partial", or a low part out of range
// for segSize.
func ParseSegmentName(name string, segSize uint32) (TimeLineID, SegNo, error) {
	if len(name) != 24 {
		return 0, 0, fmt.Errorf("parse WAL segment name %q: want 24 characters, got %d", name, len(name))
	}
	var parts [3]uint32
	for i := range parts {
		field := name[i*8 : i*8+8]
		for _, c := range field {
			if !('0' <= c && c <= '9') && !('A' <= c && c <= 'F') {
				return 0, 0, fmt.Errorf("parse WAL segment name %q: invalid character %q", name, c)
			}
		}
		v, err := strconv.ParseUint(field, 16, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("parse WAL segment name %q: %w", name, err)
		}
		parts[i] = uint32(v)
	}
	per := segmentsPerXLogID(segSize)
	if uint64(parts[2]) >= per {
		return 0, 0, fmt.Errorf("parse WAL segment name %q: segment part %08X out of range for %d-byte segments", name, parts[2], segSize)
	}
	if parts[0] == 0 {
		return 0, 0, fmt.Errorf("parse WAL segment name %q: timeline 0 is invalid", name)
	}
	return TimeLineID(parts[0]), SegNo(uint64(parts[1])*per + uint64(parts[2])), nil
}

// HistoryFileName returns the name of the history file of timeline tli,
// for example 00000002.history.
func HistoryFileName(tli TimeLineID) string {
	return fmt.Sprintf("%08X.history", uint32(tli))
}

func putHex8(b []byte, v uint32) {
	const digits = "0123456789ABCDEF"
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
}
