package wal

import (
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

// SegmentNames returns the names of the segment files that hold the WAL
// from from up to (not including) to, each under the timeline the history
// assigns it. A rewind keeps these target files from the last common
// checkpoint's redo point to the divergence: recovery replays from redo, and
// pg_rewind's own keep list (the segments its backward walk read) can miss
// the redo segment of an online checkpoint.
func SegmentNames(h timeline.History, from, to lsn.LSN, segSize uint32) []string {
	if to <= from {
		return nil
	}
	var names []string
	for s := from.Segment(segSize); s <= (to - 1).Segment(segSize); s++ {
		tli, _ := h.TLIForSegment(s, segSize)
		names = append(names, lsn.SegmentName(tli, s, segSize))
	}
	return names
}
