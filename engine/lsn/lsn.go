package lsn

import (
	"fmt"
	"strconv"
	"strings"
)

// LSN is a byte position in the write-ahead log stream (XLogRecPtr). Zero
// is the invalid position; history files also use it for "infinity".
type LSN uint64

// Invalid is the LSN PostgreSQL uses to mean "no position".
const Invalid LSN = 0

// String formats the LSN as PostgreSQL 15 does: high and low 32-bit halves
// in uppercase hexadecimal without padding, separated by a slash.
func (p LSN) String() string {
	return fmt.Sprintf("%X/%X", uint32(p>>32), uint32(p))
}

// Parse reads an LSN written as "%X/%X", which also covers the zero-padded
// "%X/%08X" form of PostgreSQL 18. Each half must be 1 to 8 hexadecimal
// digits; anything else is an error.
func Parse(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("parse LSN %q: missing \"/\"", s)
	}
	h, err := parseHalf(hi)
	if err != nil {
		return 0, fmt.Errorf("parse LSN %q: high half: %w", s, err)
	}
	l, err := parseHalf(lo)
	if err != nil {
		return 0, fmt.Errorf("parse LSN %q: low half: %w", s, err)
	}
	return LSN(h)<<32 | LSN(l), nil
}

// parseHalf reads one 32-bit half. The digits are checked first so that the
// error names the offending character rather than strconv's generic text.
func parseHalf(s string) (uint32, error) {
	if len(s) == 0 || len(s) > 8 {
		return 0, fmt.Errorf("want 1 to 8 hex digits, got %d", len(s))
	}
	for _, c := range s {
		if !isHex(c) {
			return 0, fmt.Errorf("invalid hex digit %q", c)
		}
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, err
	}
	return uint32(v), nil
}

func isHex(c rune) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}
