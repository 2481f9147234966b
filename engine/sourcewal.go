package engine

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/source"
	"github.com/pgrunbook/pgrunbook/engine/wal"
)

// sourcePages reads WAL pages of the source through the same Source the
// rewind copies files with, so the source's WAL can be compared with the
// target's whether the source is a directory or a server (where each page
// is one pg_read_binary_file range). It is used for a handful of pages,
// never for a scan.
type sourcePages struct {
	src     source.Source
	segSize uint32
}

// ReadPage implements wal.PageSource.
func (p *sourcePages) ReadPage(ctx context.Context, tli lsn.TimeLineID, seg lsn.SegNo, off uint32, buf []byte) error {
	path := "pg_wal/" + lsn.SegmentName(tli, seg, p.segSize)
	var got int
	var vanished bool
	sink := func(_ string, offset int64, data []byte, gone bool) error {
		if gone {
			vanished = true
			return nil
		}
		at := int(offset - int64(off))
		if at < 0 || at+len(data) > len(buf) {
			return fmt.Errorf("read source WAL %s: chunk at offset %d outside the page at %d", path, offset, off)
		}
		got += copy(buf[at:], data)
		return nil
	}
	rng := []source.Range{{Path: path, Offset: int64(off), Length: int64(len(buf))}}
	if err := p.src.Fetch(ctx, rng, sink); err != nil {
		return fmt.Errorf("read source WAL %s at offset %d: %w", path, off, err)
	}
	if vanished || got < len(buf) {
		return fmt.Errorf("read source WAL %s at offset %d: got %d of %d bytes", path, off, got, len(buf))
	}
	return nil
}

// readSourceRecord reads the source's WAL record at p, with the target's
// history choosing the segment files (the clusters are on the same
// timeline when this is used).
func (r *run) readSourceRecord(ctx context.Context, p lsn.LSN) (*wal.Record, error) {
	pages := &sourcePages{src: r.src, segSize: r.srcCF.WalSegSize}
	rd, err := wal.NewReader(wal.ConfigFor(r.srcCF, pages, r.tgtHist))
	if err != nil {
		return nil, fmt.Errorf("read source WAL: %w", err)
	}
	rec, err := rd.ReadRecord(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("could not read the source's WAL record at %s: %w", p, err)
	}
	return rec, nil
}
