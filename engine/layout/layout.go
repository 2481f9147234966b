package layout

// Layout describes the version-dependent formats of one PostgreSQL major
// version. Offsets are byte offsets from the start of the structure; an
// offset of Absent means the field does not exist in that version.
type Layout struct {
	// Major is the major version number, e.g. 15.
	Major int
	// Checked is true when every value in this table was verified against
	// a real server of this major version. Unchecked tables are refused by
	// For, because a wrong offset would corrupt a cluster silently.
	Checked bool

	// PageMagic is XLOG_PAGE_MAGIC, the first two bytes of every WAL page.
	PageMagic uint16
	// ControlVersion is PG_CONTROL_VERSION, stored in pg_control.
	ControlVersion uint32
	// CatalogVersion is CATALOG_VERSION_NO, stored in pg_control and part
	// of tablespace directory names (PG_15_202209061).
	CatalogVersion uint32

	// Control locates the fields of ControlFileData in global/pg_control.
	Control ControlOffsets
	// CheckPoint locates the fields of struct CheckPoint, which is both
	// embedded in pg_control and the main data of checkpoint WAL records.
	CheckPoint CheckPointOffsets
	// Image holds the bimg_info flag bits of full-page images.
	Image ImageBits
	// Special lists the WAL records a rewind recognises although they
	// carry XLR_SPECIAL_REL_UPDATE or create and drop files.
	Special SpecialRecords

	// HasTopLevelXID is true when block id 252 (XLR_BLOCK_ID_TOPLEVEL_XID)
	// may appear in a record body (14 and later).
	HasTopLevelXID bool
	// HasCustomRmgrs is true when resource manager IDs 128–255 are valid
	// custom resource managers (15 and later).
	HasCustomRmgrs bool
	// MaxBuiltinRmgr is the highest built-in resource manager ID.
	MaxBuiltinRmgr uint8
	// XactStatsItemSize is the size of one dropped-statistics item in a
	// commit record (xl_xact_stats_item), or 0 before 15, which has none.
	XactStatsItemSize int

	// Timeline says how to tell which timeline a control file is on.
	Timeline TimelineRule
}

// Absent marks an offset of a field that the major version does not have.
const Absent = -1
