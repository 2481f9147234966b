package wal

import (
	"context"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// PageSource supplies WAL pages to a Reader. The Reader decides which
// timeline's segment file holds each page (from the timeline history) and
// validates what it gets; the source only finds bytes.
type PageSource interface {
	// ReadPage fills buf, one WAL page, with the bytes at offset off of
	// segment seg of timeline tli. A segment that cannot be found is
	// reported as a *MissingSegmentError.
	ReadPage(ctx context.Context, tli lsn.TimeLineID, seg lsn.SegNo, off uint32, buf []byte) error
}
