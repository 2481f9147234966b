package layout

// Resource manager IDs of the records a rewind looks at. They are the same
// in every supported major version.
const (
	RmgrXLOG  uint8 = 0
	RmgrXACT  uint8 = 1
	RmgrSMGR  uint8 = 2
	RmgrDBASE uint8 = 4
)

// SpecialRecords lists the opcodes (xl_info & 0xF0, or & XactOpMask for
// transaction records) of the records that change files without block
// references. pg_rewind ignores exactly these and refuses any other record
// flagged XLR_SPECIAL_REL_UPDATE, because it could not tell which files the
// record touched.
type SpecialRecords struct {
	// DbaseCreate are the database-creation opcodes: CREATE before 15,
	// CREATE_FILE_COPY and CREATE_WAL_LOG from 15 on.
	DbaseCreate []uint8
	// DbaseDrop is XLOG_DBASE_DROP.
	DbaseDrop uint8
	// SmgrCreate and SmgrTruncate are XLOG_SMGR_CREATE and _TRUNCATE.
	SmgrCreate, SmgrTruncate uint8
	// XactOpMask selects the opcode of a transaction record; the top
	// bit of xl_info there is XLOG_XACT_HAS_INFO, not part of the opcode.
	XactOpMask uint8
	// XactCommit, XactCommitPrepared, XactAbort and XactAbortPrepared are
	// the transaction-end opcodes, which drop relations since 14.
	XactCommit, XactCommitPrepared, XactAbort, XactAbortPrepared uint8
}

// Ignored reports whether a record of resource manager rmid with xl_info
// info is one of the special records a rewind knows and can skip.
func (s SpecialRecords) Ignored(rmid, info uint8) bool {
	switch rmid {
	case RmgrDBASE:
		op := info & 0xF0
		for _, c := range s.DbaseCreate {
			if op == c {
				return true
			}
		}
		return op == s.DbaseDrop
	case RmgrSMGR:
		op := info & 0xF0
		return op == s.SmgrCreate || op == s.SmgrTruncate
	case RmgrXACT:
		op := info & s.XactOpMask
		return op == s.XactCommit || op == s.XactCommitPrepared || op == s.XactAbort || op == s.XactAbortPrepared
	}
	return false
}

// IsCommit reports whether a transaction record with xl_info info commits a
// transaction, and whether it commits a prepared one.
func (s SpecialRecords) IsCommit(info uint8) (commit, prepared bool) {
	switch info & s.XactOpMask {
	case s.XactCommit:
		return true, false
	case s.XactCommitPrepared:
		return true, true
	}
	return false, false
}
