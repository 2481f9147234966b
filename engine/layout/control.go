package layout

// ControlOffsets are the byte offsets of the ControlFileData fields inside
// global/pg_control, plus the size of the structure and the offset of its
// CRC. The file itself is always FileSize bytes, zero-padded.
type ControlOffsets struct {
	SystemIdentifier      int
	ControlVersion        int
	CatalogVersion        int
	State                 int
	Time                  int
	CheckPoint            int
	CheckPointCopy        int
	UnloggedLSN           int
	MinRecoveryPoint      int
	MinRecoveryPointTLI   int
	BackupStartPoint      int
	BackupEndPoint        int
	BackupEndRequired     int
	WalLevel              int
	WalLogHints           int
	MaxConnections        int
	MaxWorkerProcesses    int
	MaxWalSenders         int
	MaxPreparedXacts      int
	MaxLocksPerXact       int
	TrackCommitTimestamp  int
	MaxAlign              int
	FloatFormat           int
	BlockSize             int
	RelSegSize            int
	WalBlockSize          int
	WalSegSize            int
	NameDataLen           int
	IndexMaxKeys          int
	ToastMaxChunkSize     int
	LargeObjectChunkSize  int
	Float4ByVal           int
	Float8ByVal           int
	DataChecksumVersion   int
	MockAuthNonce         int
	DefaultCharSignedness int
	// CRC is the offset of the CRC-32C, which covers bytes [0, CRC).
	CRC int
	// Size is sizeof(ControlFileData); bytes from Size to FileSize are
	// zero padding.
	Size int
}

// FileSize is PG_CONTROL_FILE_SIZE: pg_control is always this many bytes,
// so that it fits one disk sector-aligned write.
const FileSize = 8192

// MockAuthNonceLen is the length of mock_authentication_nonce.
const MockAuthNonceLen = 32

// CheckPointOffsets are the byte offsets of the fields of struct CheckPoint
// relative to the start of the structure.
type CheckPointOffsets struct {
	Redo              int
	ThisTimeLineID    int
	PrevTimeLineID    int
	FullPageWrites    int
	WalLevel          int
	NextXID           int
	NextOID           int
	NextMulti         int
	NextMultiOffset   int
	OldestXID         int
	OldestXIDDB       int
	OldestMulti       int
	OldestMultiDB     int
	Time              int
	OldestCommitTsXID int
	NewestCommitTsXID int
	OldestActiveXID   int
	// Size is sizeof(CheckPoint), which is also the main-data length of
	// a checkpoint WAL record.
	Size int
}
