package timeline

import (
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Entry is one timeline of a history: the cluster was on TLI for the WAL
// range [Begin, End). Begin 0 means "from the start of WAL" and End 0 means
// "not left (yet)".
type Entry struct {
	TLI   lsn.TimeLineID
	Begin lsn.LSN
	End   lsn.LSN
}

// String prints the entry as pg_rewind's debug output does, for example
// "1: 0/0 - 0/3002EB0".
func (e Entry) String() string {
	return fmt.Sprintf("%d: %s - %s", e.TLI, e.Begin, e.End)
}

// covers reports whether p lies in [Begin, End), treating 0 as infinity at
// either end.
func (e Entry) covers(p lsn.LSN) bool {
	return (e.Begin == 0 || p >= e.Begin) && (e.End == 0 || p < e.End)
}

// History is a timeline history, oldest entry first; the last entry is the
// timeline itself.
type History []Entry

// Single returns the history of a timeline without ancestors, which is the
// case of timeline 1.
func Single(tli lsn.TimeLineID) History {
	return History{{TLI: tli}}
}

// TLI returns the timeline the history belongs to: that of its last entry.
func (h History) TLI() lsn.TimeLineID {
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].TLI
}

// TimelineOf returns the timeline that wrote the WAL at p according to the
// history, and false when no entry covers p.
func (h History) TimelineOf(p lsn.LSN) (lsn.TimeLineID, bool) {
	for _, e := range h {
		if e.covers(p) {
			return e.TLI, true
		}
	}
	return 0, false
}

// TLIForSegment returns the timeline whose file holds segment seg, and the
// index of its entry. The file of the segment that contains a switch point
// is the newer timeline's: at promotion the server copies the old
// segment's content up to the switch point into a file named for the new
// timeline. So the answer is the first entry whose range reaches the end of
// the segment.
func (h History) TLIForSegment(seg lsn.SegNo, segSize uint32) (lsn.TimeLineID, int) {
	segEnd := (seg + 1).Start(segSize)
	for i, e := range h {
		if e.End == 0 || e.End >= segEnd {
			return e.TLI, i
		}
	}
	// Unreachable for a parsed history, whose last entry is open.
	return h.TLI(), len(h) - 1
}
