package filemap

import (
	"fmt"
	"strconv"
	"strings"
)

// Tablespace OIDs that have fixed directories instead of pg_tblspc links.
const (
	DefaultTablespaceOID = 1663 // base/
	GlobalTablespaceOID  = 1664 // global/
)

// ForkNumber is a relation fork. Only the main fork is tracked block by
// block; the others are small and copied whole.
type ForkNumber uint8

// The relation forks and their file name suffixes.
const (
	ForkMain ForkNumber = iota
	ForkFSM
	ForkVisibilityMap
	ForkInit
)

var forkSuffix = [...]string{ForkMain: "", ForkFSM: "_fsm", ForkVisibilityMap: "_vm", ForkInit: "_init"}

// RelFileNode identifies a relation's storage: tablespace, database and
// relfilenode OIDs.
type RelFileNode struct {
	Spc uint32
	DB  uint32
	Rel uint32
}

// TablespaceVersionDir is the per-version directory that a server creates
// inside every tablespace, e.g. "PG_15_202209061".
func TablespaceVersionDir(major int, catversion uint32) string {
	return fmt.Sprintf("PG_%d_%d", major, catversion)
}

// RelPath returns the data-directory-relative path of segment segno of the
// given fork, the way the server names it: the segment suffix ".N" is
// present only for segno > 0.
func RelPath(rel RelFileNode, fork ForkNumber, segno uint32, major int, catversion uint32) string {
	b := make([]byte, 0, 64)
	switch rel.Spc {
	case GlobalTablespaceOID:
		b = append(b, "global/"...)
		b = strconv.AppendUint(b, uint64(rel.Rel), 10)
	case DefaultTablespaceOID:
		b = append(b, "base/"...)
		b = strconv.AppendUint(b, uint64(rel.DB), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(rel.Rel), 10)
	default:
		b = append(b, "pg_tblspc/"...)
		b = strconv.AppendUint(b, uint64(rel.Spc), 10)
		b = append(b, '/')
		b = append(b, TablespaceVersionDir(major, catversion)...)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(rel.DB), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(rel.Rel), 10)
	}
	if int(fork) < len(forkSuffix) {
		b = append(b, forkSuffix[fork]...)
	}
	if segno > 0 {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(segno), 10)
	}
	return string(b)
}

// IsRelDataFile reports whether path is a main-fork relation data file (or
// one of its ".N" segments) for the given server version. The shape is
// parsed loosely and then the canonical path is rebuilt and compared, as
// pg_rewind does, which rejects fork files (_fsm, _vm, _init), temporary
// relations (t3_1234), a ".0" suffix, leading zeros and trailing junk.
func IsRelDataFile(path string, major int, catversion uint32) bool {
	rel, segno, ok := parseRelPath(path, major, catversion)
	if !ok {
		return false
	}
	return RelPath(rel, ForkMain, segno, major, catversion) == path
}

// parseRelPath extracts the OIDs and segment number from a path of one of
// the three relation directory shapes, without judging canonical form.
func parseRelPath(path string, major int, catversion uint32) (RelFileNode, uint32, bool) {
	var rel RelFileNode
	var file string
	parts := strings.Split(path, "/")
	switch {
	case len(parts) == 2 && parts[0] == "global":
		rel.Spc, file = GlobalTablespaceOID, parts[1]
	case len(parts) == 3 && parts[0] == "base":
		db, ok := parseOID(parts[1])
		if !ok {
			return rel, 0, false
		}
		rel.Spc, rel.DB, file = DefaultTablespaceOID, db, parts[2]
	case len(parts) == 5 && parts[0] == "pg_tblspc" && parts[2] == TablespaceVersionDir(major, catversion):
		spc, ok1 := parseOID(parts[1])
		db, ok2 := parseOID(parts[3])
		if !ok1 || !ok2 {
			return rel, 0, false
		}
		rel.Spc, rel.DB, file = spc, db, parts[4]
	default:
		return rel, 0, false
	}
	relText, segText, hasSeg := strings.Cut(file, ".")
	r, ok := parseOID(relText)
	if !ok {
		return rel, 0, false
	}
	rel.Rel = r
	var segno uint32
	if hasSeg {
		s, ok := parseOID(segText)
		if !ok {
			return rel, 0, false
		}
		segno = s
	}
	return rel, segno, true
}

// parseOID parses an unsigned 32-bit decimal number made of digits only.
func parseOID(s string) (uint32, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
