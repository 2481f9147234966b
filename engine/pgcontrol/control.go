package pgcontrol

import (
	"github.com/pgrunbook/pgrunbook/engine/layout"
	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// ControlFile is the decoded content of global/pg_control (ControlFileData).
// Field names follow pg_controldata's output; times are seconds since the
// Unix epoch.
type ControlFile struct {
	SystemIdentifier uint64
	ControlVersion   uint32
	CatalogVersion   uint32
	State            DBState
	// Time is when pg_control was last written.
	Time int64
	// CheckPoint is the LSN of the latest checkpoint record.
	CheckPoint lsn.LSN
	// CheckPointCopy is that checkpoint's content.
	CheckPointCopy CheckPoint
	// UnloggedLSN is the fake LSN counter for unlogged relations.
	UnloggedLSN lsn.LSN
	// MinRecoveryPoint and MinRecoveryPointTLI say how far recovery must
	// replay before the cluster is consistent; a rewind sets them to the
	// source's position.
	MinRecoveryPoint    lsn.LSN
	MinRecoveryPointTLI lsn.TimeLineID
	// BackupStartPoint, BackupEndPoint and BackupEndRequired track an
	// in-progress recovery from a base backup.
	BackupStartPoint  lsn.LSN
	BackupEndPoint    lsn.LSN
	BackupEndRequired bool

	// The server settings that a standby must match.
	WalLevel             WalLevel
	WalLogHints          bool
	MaxConnections       int32
	MaxWorkerProcesses   int32
	MaxWalSenders        int32
	MaxPreparedXacts     int32
	MaxLocksPerXact      int32
	TrackCommitTimestamp bool

	// The compile-time settings of the server that wrote the file.
	MaxAlign             uint32
	FloatFormat          float64
	BlockSize            uint32
	RelSegSize           uint32
	WalBlockSize         uint32
	WalSegSize           uint32
	NameDataLen          uint32
	IndexMaxKeys         uint32
	ToastMaxChunkSize    uint32
	LargeObjectChunkSize uint32
	// Float4ByVal exists only in 12.
	Float4ByVal bool
	Float8ByVal bool
	// DataChecksumVersion is 0 when data checksums are off.
	DataChecksumVersion uint32
	// MockAuthNonce is the random nonce for SCRAM mock authentication.
	MockAuthNonce [layout.MockAuthNonceLen]byte
	// CRC is the checksum as read from the file; Marshal recomputes it.
	CRC uint32

	// Layout is the major version's layout the file was parsed with, and
	// the one Marshal writes with.
	Layout *layout.Layout
	// raw is the whole file as parsed, so that Marshal keeps every byte it
	// does not model.
	raw []byte
}

// Timeline returns the timeline the cluster is on by the rule of its major
// version: the checkpoint's timeline up to 15, the larger of that and
// MinRecoveryPointTLI from 16 on.
func (cf *ControlFile) Timeline() lsn.TimeLineID {
	return cf.Layout.Timeline.Of(cf.CheckPointCopy.ThisTimeLineID, cf.MinRecoveryPointTLI)
}

// Raw returns a copy of the bytes cf was parsed from.
func (cf *ControlFile) Raw() []byte {
	return append([]byte(nil), cf.raw...)
}
