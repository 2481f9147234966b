package wal

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/timeline"
)

// Config tells a Reader where its pages come from and what they must look
// like. The sizes and system identifier come from the cluster's pg_control.
type Config struct {
	// Source supplies the pages.
	Source PageSource
	// History picks the timeline of each segment; its last entry is the
	// newest timeline the reader may use.
	History timeline.History
	// Layout is the major version's layout (page magic, image bits, ...).
	Layout *layout.Layout
	// SystemID must match every segment's long page header.
	SystemID uint64
	// SegSize is the WAL segment size, PageSize XLOG_BLCKSZ and BlockSize
	// BLCKSZ (the data page size, needed for page-image holes).
	SegSize, PageSize, BlockSize uint32
}

// ConfigFor fills a Config from a cluster's control file.
func ConfigFor(cf *pgcontrol.ControlFile, src PageSource, history timeline.History) Config {
	return Config{
		Source: src, History: history, Layout: cf.Layout, SystemID: cf.SystemIdentifier,
		SegSize: cf.WalSegSize, PageSize: cf.WalBlockSize, BlockSize: cf.BlockSize,
	}
}

// maxRecordLen bounds xl_tot_len the way the server's allocation limit
// does; anything larger is corruption.
const maxRecordLen = 1<<30 - 1

// Reader reads WAL records one at a time, either at a given position
// (random access, as pg_rewind's backward checkpoint search does) or one
// after the other (as its forward block scan does). It is not safe for
// concurrent use.
type Reader struct {
	cfg Config

	page      []byte
	pageAddr  lsn.LSN
	pageHdr   pageHeader
	pageValid bool

	// checkedSeg and checkedName identify the segment whose first page
	// was validated last; xlogreader validates a segment's long header
	// before trusting any page inside it.
	checkedSeg  lsn.SegNo
	checkedName string

	latestPagePtr lsn.LSN
	latestPageTLI lsn.TimeLineID

	next       lsn.LSN
	prev       lsn.LSN
	randAccess bool

	touched      map[string]bool
	touchedOrder []string

	// lastName and lastOff are the segment file and offset of the page
	// read last (or being read when an error stopped the reader).
	lastName string
	lastOff  uint32

	// name is the file name of segment nameSeg of timeline nameTLI, the
	// segment of the page read last, kept so that it is formatted once
	// per segment rather than once per page.
	name      string
	nameSeg   lsn.SegNo
	nameTLI   lsn.TimeLineID
	nameValid bool

	// reuse is set while ScanBlocks runs: records are then decoded into
	// rec, in place on the page or in scratch, because the scan's
	// callbacks only look at a record while it is current. Records that
	// Next and ReadRecord return otherwise are the caller's to keep.
	reuse   bool
	rec     Record
	scratch []byte
}

// NewReader checks cfg and returns a Reader positioned nowhere; call Seek
// or ReadRecord first.
func NewReader(cfg Config) (*Reader, error) {
	switch {
	case cfg.Source == nil:
		return nil, errors.New("new WAL reader: no page source")
	case cfg.Layout == nil:
		return nil, errors.New("new WAL reader: no layout")
	case len(cfg.History) == 0:
		return nil, errors.New("new WAL reader: empty timeline history")
	case !lsn.ValidSegmentSize(cfg.SegSize):
		return nil, fmt.Errorf("new WAL reader: invalid segment size %d", cfg.SegSize)
	case cfg.PageSize < longPageHeaderSize+recordHeaderSize || cfg.PageSize&(cfg.PageSize-1) != 0 || cfg.SegSize%cfg.PageSize != 0:
		return nil, fmt.Errorf("new WAL reader: invalid WAL page size %d", cfg.PageSize)
	case cfg.BlockSize == 0 || cfg.BlockSize > 1<<16:
		return nil, fmt.Errorf("new WAL reader: invalid block size %d", cfg.BlockSize)
	}
	return &Reader{cfg: cfg, page: make([]byte, cfg.PageSize), touched: map[string]bool{}}, nil
}

// Seek positions the reader so that the next call to Next reads the record
// at p, checking its prev-link as a random access (xl_prev < p).
func (r *Reader) Seek(p lsn.LSN) {
	r.next, r.prev, r.randAccess = p, 0, true
}

// ReadRecord reads the record at p (random access); a following Next
// continues after it. p may point at a page boundary, in which case the
// record starts after the page header.
func (r *Reader) ReadRecord(ctx context.Context, p lsn.LSN) (*Record, error) {
	r.Seek(p)
	return r.Next(ctx)
}

// Next reads the record after the previous one and checks that its xl_prev
// points back at the previous record. At the end of the WAL the error
// matches ErrEndOfWAL.
func (r *Reader) Next(ctx context.Context) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, err := r.readRecord(ctx, r.next, r.randAccess, r.prev)
	if err != nil {
		return nil, err
	}
	r.next, r.prev, r.randAccess = rec.EndLSN, rec.LSN, false
	return rec, nil
}

// Segments returns the names of the segment files the reader read since
// the last ResetSegments, in the order first read.
func (r *Reader) Segments() []string {
	return append([]string(nil), r.touchedOrder...)
}

// LastPage names the segment file and the offset in it of the page the
// reader read last, or was reading when it failed, so that an error can
// say where the damage is; ok is false before the first read.
func (r *Reader) LastPage() (name string, offset uint32, ok bool) {
	return r.lastName, r.lastOff, r.lastName != ""
}

// ResetSegments forgets the segment files read so far.
func (r *Reader) ResetSegments() {
	r.touched = map[string]bool{}
	r.touchedOrder = nil
	// The next page read must register its segment again.
	r.nameValid = false
}

func (r *Reader) touch(name string) {
	if !r.touched[name] {
		r.touched[name] = true
		r.touchedOrder = append(r.touchedOrder, name)
	}
}

// maxAlign rounds up to MAXALIGN (8), the alignment of record starts.
func maxAlign(n uint64) uint64 {
	return (n + 7) &^ 7
}
