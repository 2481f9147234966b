package pgcontrol

import (
	"github.com/pgrunbook/pgrunbook/engine/layout"
)

// Marshal returns the 8192-byte pg_control image of cf with a fresh CRC.
// It starts from the bytes cf was parsed from and patches every modelled
// field, so a file parsed and marshalled unchanged comes back
// byte-identical, and bytes this package does not model (padding, fields
// of a newer minor release) survive an edit. A ControlFile built by hand
// must set Layout; it then starts from zero padding.
func (cf *ControlFile) Marshal() []byte {
	l := cf.Layout
	if l == nil {
		panic("pgcontrol: Marshal of a ControlFile without a Layout")
	}
	img := make([]byte, layout.FileSize)
	copy(img, cf.raw)
	o := l.Control
	f := field(img)
	f.putU64(o.SystemIdentifier, cf.SystemIdentifier)
	f.putU32(o.ControlVersion, cf.ControlVersion)
	f.putU32(o.CatalogVersion, cf.CatalogVersion)
	f.putU32(o.State, uint32(cf.State))
	f.putU64(o.Time, uint64(cf.Time))
	f.putU64(o.CheckPoint, uint64(cf.CheckPoint))
	cf.CheckPointCopy.put(field(img[o.CheckPointCopy:o.CheckPointCopy+l.CheckPoint.Size]), l)
	f.putU64(o.UnloggedLSN, uint64(cf.UnloggedLSN))
	f.putU64(o.MinRecoveryPoint, uint64(cf.MinRecoveryPoint))
	f.putU32(o.MinRecoveryPointTLI, uint32(cf.MinRecoveryPointTLI))
	f.putU64(o.BackupStartPoint, uint64(cf.BackupStartPoint))
	f.putU64(o.BackupEndPoint, uint64(cf.BackupEndPoint))
	f.putBool(o.BackupEndRequired, cf.BackupEndRequired)
	f.putU32(o.WalLevel, uint32(cf.WalLevel))
	f.putBool(o.WalLogHints, cf.WalLogHints)
	f.putU32(o.MaxConnections, uint32(cf.MaxConnections))
	f.putU32(o.MaxWorkerProcesses, uint32(cf.MaxWorkerProcesses))
	f.putU32(o.MaxWalSenders, uint32(cf.MaxWalSenders))
	f.putU32(o.MaxPreparedXacts, uint32(cf.MaxPreparedXacts))
	f.putU32(o.MaxLocksPerXact, uint32(cf.MaxLocksPerXact))
	f.putBool(o.TrackCommitTimestamp, cf.TrackCommitTimestamp)
	f.putU32(o.MaxAlign, cf.MaxAlign)
	f.putF64(o.FloatFormat, cf.FloatFormat)
	f.putU32(o.BlockSize, cf.BlockSize)
	f.putU32(o.RelSegSize, cf.RelSegSize)
	f.putU32(o.WalBlockSize, cf.WalBlockSize)
	f.putU32(o.WalSegSize, cf.WalSegSize)
	f.putU32(o.NameDataLen, cf.NameDataLen)
	f.putU32(o.IndexMaxKeys, cf.IndexMaxKeys)
	f.putU32(o.ToastMaxChunkSize, cf.ToastMaxChunkSize)
	f.putU32(o.LargeObjectChunkSize, cf.LargeObjectChunkSize)
	f.putBool(o.Float4ByVal, cf.Float4ByVal)
	f.putBool(o.Float8ByVal, cf.Float8ByVal)
	f.putU32(o.DataChecksumVersion, cf.DataChecksumVersion)
	copy(img[o.MockAuthNonce:o.MockAuthNonce+layout.MockAuthNonceLen], cf.MockAuthNonce[:])
	f.putU32(o.CRC, checksum(img, o.CRC))
	return img
}
