package layout

// control13 is the ControlFileData layout shared by 13 to 17 (15 checked by
// a probe compiled against the 15 server headers). 12 differs only in
// float4ByVal; 17 fills CheckPoint padding, which leaves these offsets alone.
var control13 = ControlOffsets{
	SystemIdentifier:      0,
	ControlVersion:        8,
	CatalogVersion:        12,
	State:                 16,
	Time:                  24,
	CheckPoint:            32,
	CheckPointCopy:        40,
	UnloggedLSN:           128,
	MinRecoveryPoint:      136,
	MinRecoveryPointTLI:   144,
	BackupStartPoint:      152,
	BackupEndPoint:        160,
	BackupEndRequired:     168,
	WalLevel:              172,
	WalLogHints:           176,
	MaxConnections:        180,
	MaxWorkerProcesses:    184,
	MaxWalSenders:         188,
	MaxPreparedXacts:      192,
	MaxLocksPerXact:       196,
	TrackCommitTimestamp:  200,
	MaxAlign:              204,
	FloatFormat:           208,
	BlockSize:             216,
	RelSegSize:            220,
	WalBlockSize:          224,
	WalSegSize:            228,
	NameDataLen:           232,
	IndexMaxKeys:          236,
	ToastMaxChunkSize:     240,
	LargeObjectChunkSize:  244,
	Float4ByVal:           Absent,
	Float8ByVal:           248,
	DataChecksumVersion:   252,
	MockAuthNonce:         256,
	DefaultCharSignedness: Absent,
	CRC:                   288,
	Size:                  296,
}

// control12 adds float4ByVal, which 13 removed; the padding after the two
// bools kept data_checksum_version at 252.
var control12 = func() ControlOffsets {
	c := control13
	c.Float4ByVal = 248
	c.Float8ByVal = 249
	return c
}()

// checkPoint12 is struct CheckPoint from 12 to 16; 12 introduced the 64-bit
// nextFullXid at +24.
var checkPoint12 = CheckPointOffsets{
	Redo:              0,
	ThisTimeLineID:    8,
	PrevTimeLineID:    12,
	FullPageWrites:    16,
	WalLevel:          Absent,
	NextXID:           24,
	NextOID:           32,
	NextMulti:         36,
	NextMultiOffset:   40,
	OldestXID:         44,
	OldestXIDDB:       48,
	OldestMulti:       52,
	OldestMultiDB:     56,
	Time:              64,
	OldestCommitTsXID: 72,
	NewestCommitTsXID: 76,
	OldestActiveXID:   80,
	Size:              88,
}

// checkPoint17 adds wal_level in the padding after fullPageWrites.
var checkPoint17 = func() CheckPointOffsets {
	c := checkPoint12
	c.WalLevel = 20
	return c
}()

// imageBits10 is the bimg_info numbering of 10 to 14: pglz was the only
// compression and had bit 0x02; "apply" was 0x04.
var imageBits10 = ImageBits{HasHole: 0x01, Compressed: 0x02, Apply: 0x04, PGLZ: 0x02}

// imageBits15 is the numbering from 15 on, with three compression methods.
var imageBits15 = ImageBits{HasHole: 0x01, Apply: 0x02, Compressed: 0x04 | 0x08 | 0x10, PGLZ: 0x04, LZ4: 0x08, ZSTD: 0x10}

// special12 are the special records before 15, when CREATE DATABASE had a
// single opcode.
var special12 = SpecialRecords{
	DbaseCreate: []uint8{0x00}, DbaseDrop: 0x10,
	SmgrCreate: 0x10, SmgrTruncate: 0x20,
	XactOpMask: 0x70, XactCommit: 0x00, XactCommitPrepared: 0x30, XactAbort: 0x20, XactAbortPrepared: 0x40,
}

// special15 splits CREATE DATABASE into the file-copy and WAL-log
// strategies, which moved DROP to 0x20.
var special15 = SpecialRecords{
	DbaseCreate: []uint8{0x00, 0x10}, DbaseDrop: 0x20,
	SmgrCreate: 0x10, SmgrTruncate: 0x20,
	XactOpMask: 0x70, XactCommit: 0x00, XactCommitPrepared: 0x30, XactAbort: 0x20, XactAbortPrepared: 0x40,
}

// tables holds one layout per known major version. Values for unchecked
// majors come from the upstream headers of that branch as recorded in the
// engine reference; they are kept so that refusals can name the version.
var tables = map[int]Layout{
	12: {
		Major: 12, PageMagic: 0xD101, ControlVersion: 1201, CatalogVersion: 201909212,
		Control: control12, CheckPoint: checkPoint12, Image: imageBits10, Special: special12,
		MaxBuiltinRmgr: 21, Timeline: TimelineFromCheckpoint,
	},
	13: {
		Major: 13, PageMagic: 0xD106, ControlVersion: 1300, CatalogVersion: 202007201,
		Control: control13, CheckPoint: checkPoint12, Image: imageBits10, Special: special12,
		MaxBuiltinRmgr: 21, Timeline: TimelineFromCheckpoint,
	},
	14: {
		Major: 14, PageMagic: 0xD10D, ControlVersion: 1300, CatalogVersion: 202107181,
		Control: control13, CheckPoint: checkPoint12, Image: imageBits10, Special: special12,
		HasTopLevelXID: true, MaxBuiltinRmgr: 21, Timeline: TimelineFromCheckpoint,
	},
	15: {
		Major: 15, Checked: true, PageMagic: 0xD110, ControlVersion: 1300, CatalogVersion: 202209061,
		Control: control13, CheckPoint: checkPoint12, Image: imageBits15, Special: special15,
		HasTopLevelXID: true, HasCustomRmgrs: true, MaxBuiltinRmgr: 21, XactStatsItemSize: 12,
		Timeline: TimelineFromCheckpoint,
	},
	16: {
		Major: 16, PageMagic: 0xD113, ControlVersion: 1300, CatalogVersion: 202307071,
		Control: control13, CheckPoint: checkPoint12, Image: imageBits15, Special: special15,
		HasTopLevelXID: true, HasCustomRmgrs: true, MaxBuiltinRmgr: 21, XactStatsItemSize: 12,
		Timeline: TimelineMaxWithMinRecovery,
	},
	17: {
		Major: 17, PageMagic: 0xD116, ControlVersion: 1700, CatalogVersion: 202406281,
		Control: control13, CheckPoint: checkPoint17, Image: imageBits15, Special: special15,
		HasTopLevelXID: true, HasCustomRmgrs: true, MaxBuiltinRmgr: 21, XactStatsItemSize: 12,
		Timeline: TimelineMaxWithMinRecovery,
	},
}
