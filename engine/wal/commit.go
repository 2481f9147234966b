package wal

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// Commit is a transaction commit found in the WAL.
type Commit struct {
	// LSN is where the commit record starts.
	LSN lsn.LSN
	// XID is the committed (top-level or prepared) transaction.
	XID uint32
	// Time is the commit time the server recorded.
	Time time.Time
	// Prepared is true for COMMIT PREPARED.
	Prepared bool
}

// Commit record layout: xl_xact_commit is an 8-byte TimestampTz, then, when
// xl_info has XLOG_XACT_HAS_INFO, a 4-byte xinfo whose bits say which
// optional parts follow, in this order.
const (
	xactHasInfo          = 0x80
	xinfoHasDBInfo       = 1 << 0
	xinfoHasSubxacts     = 1 << 1
	xinfoHasRelFileNodes = 1 << 2
	xinfoHasInvals       = 1 << 3
	xinfoHasTwoPhase     = 1 << 4
	xinfoHasDroppedStats = 1 << 8

	sharedInvalMsgSize = 16
)

// postgresEpoch is the zero of TimestampTz: microseconds count from here.
var postgresEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// decodeCommit reads a transaction commit record. For COMMIT PREPARED the
// committed transaction is the prepared one named in the record, not the
// session that ran the command.
func decodeCommit(rec *Record, l *layout.Layout, prepared bool) (Commit, error) {
	d := rec.MainData
	if len(d) < 8 {
		return Commit{}, fmt.Errorf("commit record at %s: main data is %d bytes, want at least 8", rec.LSN, len(d))
	}
	c := Commit{
		LSN:      rec.LSN,
		XID:      rec.XID,
		Time:     postgresEpoch.Add(time.Duration(int64(binary.LittleEndian.Uint64(d))) * time.Microsecond),
		Prepared: prepared,
	}
	if rec.Info&xactHasInfo == 0 {
		return c, nil
	}
	cur := &cursor{b: d, pos: 8, ok: true}
	xinfo := cur.u32()
	skip := func(flag uint32, itemSize int) {
		if xinfo&flag == 0 || !cur.ok {
			return
		}
		n := int32(cur.u32())
		if n < 0 || int64(n)*int64(itemSize) > int64(len(d)) {
			cur.ok = false
			return
		}
		cur.take(int(n) * itemSize)
	}
	if xinfo&xinfoHasDBInfo != 0 {
		cur.take(8)
	}
	skip(xinfoHasSubxacts, 4)
	skip(xinfoHasRelFileNodes, relFileNodeLen)
	if l.XactStatsItemSize > 0 {
		skip(xinfoHasDroppedStats, l.XactStatsItemSize)
	}
	skip(xinfoHasInvals, sharedInvalMsgSize)
	if xinfo&xinfoHasTwoPhase != 0 {
		xid := cur.u32()
		if cur.ok {
			c.XID = xid
		}
	}
	if !cur.ok {
		return Commit{}, fmt.Errorf("commit record at %s: main data too short for xinfo %#x", rec.LSN, xinfo)
	}
	return c, nil
}
