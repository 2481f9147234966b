package pgcontrol

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// ErrCRC is returned (wrapped) when the stored CRC does not match the
// content, which means a torn or corrupt file or the wrong layout.
var ErrCRC = errors.New("unexpected control file CRC")

// Offsets of pg_control_version and catalog_version_no, which are the same
// in every major version so that any reader can find out what it is looking
// at before trusting any other offset.
const (
	controlVersionOffset = 8
	catalogVersionOffset = 12
)

// Parse decodes a pg_control image. With a nil layout it picks the layout
// from the image's own pg_control and catalog versions; with a layout it
// insists the image was written by that major version. It checks the size
// (exactly 8192 bytes), the CRC and the WAL segment size as pg_rewind does.
func Parse(b []byte, l *layout.Layout) (*ControlFile, error) {
	if len(b) != layout.FileSize {
		return nil, fmt.Errorf("parse pg_control: unexpected control file size %d, expected %d", len(b), layout.FileSize)
	}
	cv := binary.LittleEndian.Uint32(b[controlVersionOffset:])
	cat := binary.LittleEndian.Uint32(b[catalogVersionOffset:])
	if l == nil {
		var err error
		if l, err = layout.FromControlVersion(cv, cat); err != nil {
			return nil, fmt.Errorf("parse pg_control: %w", err)
		}
	} else if cv != l.ControlVersion || cat != l.CatalogVersion {
		return nil, fmt.Errorf("parse pg_control: pg_control version %d, catalog version %d, but PostgreSQL %d has %d, %d",
			cv, cat, l.Major, l.ControlVersion, l.CatalogVersion)
	}
	o := l.Control
	f := field(b)
	if got, want := checksum(b, o.CRC), f.u32(o.CRC); got != want {
		return nil, fmt.Errorf("parse pg_control: %w (stored %08X, computed %08X)", ErrCRC, want, got)
	}
	cp, err := ParseCheckPoint(b[o.CheckPointCopy:o.CheckPointCopy+l.CheckPoint.Size], l)
	if err != nil {
		return nil, fmt.Errorf("parse pg_control: %w", err)
	}
	cf := &ControlFile{
		SystemIdentifier:     f.u64(o.SystemIdentifier),
		ControlVersion:       cv,
		CatalogVersion:       cat,
		State:                DBState(f.u32(o.State)),
		Time:                 int64(f.u64(o.Time)),
		CheckPoint:           lsn.LSN(f.u64(o.CheckPoint)),
		CheckPointCopy:       cp,
		UnloggedLSN:          lsn.LSN(f.u64(o.UnloggedLSN)),
		MinRecoveryPoint:     lsn.LSN(f.u64(o.MinRecoveryPoint)),
		MinRecoveryPointTLI:  lsn.TimeLineID(f.u32(o.MinRecoveryPointTLI)),
		BackupStartPoint:     lsn.LSN(f.u64(o.BackupStartPoint)),
		BackupEndPoint:       lsn.LSN(f.u64(o.BackupEndPoint)),
		BackupEndRequired:    f.boolean(o.BackupEndRequired),
		WalLevel:             WalLevel(f.u32(o.WalLevel)),
		WalLogHints:          f.boolean(o.WalLogHints),
		MaxConnections:       int32(f.u32(o.MaxConnections)),
		MaxWorkerProcesses:   int32(f.u32(o.MaxWorkerProcesses)),
		MaxWalSenders:        int32(f.u32(o.MaxWalSenders)),
		MaxPreparedXacts:     int32(f.u32(o.MaxPreparedXacts)),
		MaxLocksPerXact:      int32(f.u32(o.MaxLocksPerXact)),
		TrackCommitTimestamp: f.boolean(o.TrackCommitTimestamp),
		MaxAlign:             f.u32(o.MaxAlign),
		FloatFormat:          f.f64(o.FloatFormat),
		BlockSize:            f.u32(o.BlockSize),
		RelSegSize:           f.u32(o.RelSegSize),
		WalBlockSize:         f.u32(o.WalBlockSize),
		WalSegSize:           f.u32(o.WalSegSize),
		NameDataLen:          f.u32(o.NameDataLen),
		IndexMaxKeys:         f.u32(o.IndexMaxKeys),
		ToastMaxChunkSize:    f.u32(o.ToastMaxChunkSize),
		LargeObjectChunkSize: f.u32(o.LargeObjectChunkSize),
		Float4ByVal:          f.boolean(o.Float4ByVal),
		Float8ByVal:          f.boolean(o.Float8ByVal),
		DataChecksumVersion:  f.u32(o.DataChecksumVersion),
		CRC:                  f.u32(o.CRC),
		Layout:               l,
		raw:                  append([]byte(nil), b...),
	}
	copy(cf.MockAuthNonce[:], b[o.MockAuthNonce:])
	if !lsn.ValidSegmentSize(cf.WalSegSize) {
		return nil, fmt.Errorf("parse pg_control: WAL segment size must be a power of two between 1 MB and 1 GB, but the control file specifies %d bytes", cf.WalSegSize)
	}
	return cf, nil
}
