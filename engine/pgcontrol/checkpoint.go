package pgcontrol

import (
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// CheckPoint is struct CheckPoint: the state a checkpoint recorded. pg_control
// keeps a copy of the latest one, and it is the main data of the
// XLOG_CHECKPOINT_SHUTDOWN and XLOG_CHECKPOINT_ONLINE WAL records.
type CheckPoint struct {
	// Redo is where replay must start for this checkpoint.
	Redo lsn.LSN
	// ThisTimeLineID is the timeline the checkpoint was written on.
	ThisTimeLineID lsn.TimeLineID
	// PrevTimeLineID differs from ThisTimeLineID only in the first
	// checkpoint after a timeline switch.
	PrevTimeLineID lsn.TimeLineID
	// FullPageWrites is the full_page_writes setting at the checkpoint.
	FullPageWrites bool
	// WalLevel exists in the record from 17 on; zero before.
	WalLevel WalLevel
	// NextXID is the next full (epoch-qualified) transaction ID.
	NextXID uint64
	// NextOID is the next free OID.
	NextOID uint32
	// NextMulti and NextMultiOffset are the next MultiXactId and offset.
	NextMulti, NextMultiOffset uint32
	// OldestXID and OldestXIDDB are the cluster-wide oldest datfrozenxid
	// and its database.
	OldestXID, OldestXIDDB uint32
	// OldestMulti and OldestMultiDB are the oldest datminmxid and its
	// database.
	OldestMulti, OldestMultiDB uint32
	// Time is when the checkpoint started, in seconds since the Unix epoch.
	Time int64
	// OldestCommitTsXID and NewestCommitTsXID bound the commit timestamps
	// kept.
	OldestCommitTsXID, NewestCommitTsXID uint32
	// OldestActiveXID is the oldest running transaction at an online
	// checkpoint, for hot standby.
	OldestActiveXID uint32
}

// ParseCheckPoint decodes a CheckPoint structure, for example the main data
// of a checkpoint WAL record.
func ParseCheckPoint(b []byte, l *layout.Layout) (CheckPoint, error) {
	if len(b) < l.CheckPoint.Size {
		return CheckPoint{}, fmt.Errorf("parse checkpoint: %d bytes, want %d", len(b), l.CheckPoint.Size)
	}
	o := l.CheckPoint
	f := field(b)
	return CheckPoint{
		Redo:              lsn.LSN(f.u64(o.Redo)),
		ThisTimeLineID:    lsn.TimeLineID(f.u32(o.ThisTimeLineID)),
		PrevTimeLineID:    lsn.TimeLineID(f.u32(o.PrevTimeLineID)),
		FullPageWrites:    f.boolean(o.FullPageWrites),
		WalLevel:          WalLevel(f.u32(o.WalLevel)),
		NextXID:           f.u64(o.NextXID),
		NextOID:           f.u32(o.NextOID),
		NextMulti:         f.u32(o.NextMulti),
		NextMultiOffset:   f.u32(o.NextMultiOffset),
		OldestXID:         f.u32(o.OldestXID),
		OldestXIDDB:       f.u32(o.OldestXIDDB),
		OldestMulti:       f.u32(o.OldestMulti),
		OldestMultiDB:     f.u32(o.OldestMultiDB),
		Time:              int64(f.u64(o.Time)),
		OldestCommitTsXID: f.u32(o.OldestCommitTsXID),
		NewestCommitTsXID: f.u32(o.NewestCommitTsXID),
		OldestActiveXID:   f.u32(o.OldestActiveXID),
	}, nil
}

// put writes c into b at the offsets of l; b must hold the structure.
func (c CheckPoint) put(b field, l *layout.Layout) {
	o := l.CheckPoint
	b.putU64(o.Redo, uint64(c.Redo))
	b.putU32(o.ThisTimeLineID, uint32(c.ThisTimeLineID))
	b.putU32(o.PrevTimeLineID, uint32(c.PrevTimeLineID))
	b.putBool(o.FullPageWrites, c.FullPageWrites)
	b.putU32(o.WalLevel, uint32(c.WalLevel))
	b.putU64(o.NextXID, c.NextXID)
	b.putU32(o.NextOID, c.NextOID)
	b.putU32(o.NextMulti, c.NextMulti)
	b.putU32(o.NextMultiOffset, c.NextMultiOffset)
	b.putU32(o.OldestXID, c.OldestXID)
	b.putU32(o.OldestXIDDB, c.OldestXIDDB)
	b.putU32(o.OldestMulti, c.OldestMulti)
	b.putU32(o.OldestMultiDB, c.OldestMultiDB)
	b.putU64(o.Time, uint64(c.Time))
	b.putU32(o.OldestCommitTsXID, c.OldestCommitTsXID)
	b.putU32(o.NewestCommitTsXID, c.NewestCommitTsXID)
	b.putU32(o.OldestActiveXID, c.OldestActiveXID)
}
