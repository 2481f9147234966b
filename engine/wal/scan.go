package wal

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// ScanFuncs receive what ScanBlocks finds. Either may be nil; an error
// stops the scan and is returned.
type ScanFuncs struct {
	// Block is called for every block reference of every record, in all
	// forks: deciding what to do with non-main forks is the caller's call.
	// The record is valid only during the call: the scan decodes the next
	// record into the same memory.
	Block func(rec *Record, ref BlockRef) error
	// Commit is called for every transaction commit, which the lost-data
	// report lists.
	Commit func(c Commit) error
}

// ScanBlocks reads the WAL sequentially from the record at from (usually
// the last common checkpoint) until a record ends exactly at end, and hands
// every block reference to fns.Block, as pg_rewind's extractPageMap does.
// Records that change files without block references are allowed only if
// the layout lists them (database creation and drop, relation creation and
// truncation, transaction end); any other record flagged
// XLR_SPECIAL_REL_UPDATE stops the scan, because the files it touched
// cannot be known.
func ScanBlocks(ctx context.Context, r *Reader, from, end lsn.LSN, fns ScanFuncs) error {
	l := r.cfg.Layout
	r.reuse = true
	defer func() { r.reuse = false }()
	r.Seek(from)
	for {
		at := r.next
		rec, err := r.Next(ctx)
		if err != nil {
			return fmt.Errorf("could not read WAL record at %s: %w", at, err)
		}
		if err := scanRecord(rec, l, fns); err != nil {
			return err
		}
		if rec.EndLSN >= end {
			if rec.EndLSN != end {
				return fmt.Errorf("end pointer %s is not a valid end point; expected %s", rec.EndLSN, end)
			}
			return nil
		}
	}
}

func scanRecord(rec *Record, l *layout.Layout, fns ScanFuncs) error {
	// The flag is rare: test it before looking the record type up.
	if rec.Info&InfoSpecialRelUpdate != 0 && !l.Special.Ignored(rec.RmID, rec.Info) {
		return fmt.Errorf("WAL record modifies a relation, but record type is not recognized: lsn: %s, rmid: %d, rmgr: %s, info: %02X",
			rec.LSN, rec.RmID, RmgrName(rec.RmID), rec.Info)
	}
	if fns.Commit != nil && rec.RmID == layout.RmgrXACT {
		if commit, prepared := l.Special.IsCommit(rec.Info); commit {
			c, err := decodeCommit(rec, l, prepared)
			if err != nil {
				return err
			}
			if err := fns.Commit(c); err != nil {
				return err
			}
		}
	}
	if fns.Block != nil {
		for _, b := range rec.Blocks {
			if err := fns.Block(rec, b); err != nil {
				return err
			}
		}
	}
	return nil
}
