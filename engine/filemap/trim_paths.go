package filemap

import (
	"strconv"
	"strings"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
)

// walDir is the WAL directory of the data directory, relative to it.
const walDir = "pg_wal"

// walBeforeRedo tells whether path is a WAL segment file (of any timeline)
// whose last byte lies before the redo point: the segment holds the LSNs
// [segno*size, (segno+1)*size), so it ends at or before the redo point
// when (segno+1)*size <= redo. A segment that holds the redo point itself
// is read by recovery and is not covered. History files, .partial and
// .backup files and anything else that is not a plain segment name are not
// covered either.
func (m *Map) walBeforeRedo(path string) bool {
	segno, ok := m.walSegmentNumber(path)
	if !ok {
		return false
	}
	// (segno+1)*size <= redo, without overflowing for the last segments.
	return segno < m.cfg.Trim.Redo/uint64(m.cfg.Trim.WALSegSize)
}

// walSegmentNumber reads path as a plain WAL segment file directly in
// pg_wal (any timeline) and returns its segment number. History files,
// .partial and .backup files and anything else are not segments.
func (m *Map) walSegmentNumber(path string) (uint64, bool) {
	t := m.cfg.Trim
	name, ok := strings.CutPrefix(path, walDir+"/")
	if !ok || strings.Contains(name, "/") || !lsn.ValidSegmentSize(t.WALSegSize) {
		return 0, false
	}
	_, segno, err := lsn.ParseSegmentName(name, t.WALSegSize)
	if err != nil {
		return 0, false
	}
	return uint64(segno), true
}

// walRecycled tells whether path is a WAL segment file (of any timeline)
// that starts beyond the segment holding the source's WAL position. The
// server renames the segments a checkpoint no longer needs to future
// names (InstallXLogFileSegment) and keeps their old contents; those
// pages carry their old addresses, so replay, reading one, sees the end
// of WAL there and turns to streaming or restore_command, and the
// walreceiver overwrites the file when that WAL really exists. The
// source's history up to its position lies in segments up to the one
// holding it, on whichever timeline, so no later segment can hold WAL the
// rewound target replays from the copy. The segment holding the position
// is fetched, even when the position is exactly its first byte.
//
// The target's file of the same name is removed rather than kept: it may
// hold the target's own WAL written after the divergence, which pg_rewind
// would overwrite with the source's stale copy; a missing file is what
// recovery makes of either.
//
// WAL the source writes after the position was read is, as with pg_rewind,
// not guaranteed to be in the copy: pg_rewind copies each pg_wal file once,
// at the moment it reaches it, and the rewound standby fetches everything
// later from the source (streaming or restore_command), which must still
// have it. A segment skipped here held no WAL of the source's history at
// that moment, so everything it will hold is such later WAL.
func (m *Map) walRecycled(path string) bool {
	segno, ok := m.walSegmentNumber(path)
	if !ok {
		return false
	}
	return segno > m.cfg.Trim.SourceWAL/uint64(m.cfg.Trim.WALSegSize)
}

// isTempFile tells whether the server deletes path when the rewound
// target starts, which is in recovery from a backup_label: a temporary
// relation file in a database directory (RemovePgTempFiles, at every
// postmaster start), a temporary WAL file (RemoveTempXlogFiles, for a
// cluster that was not shut down cleanly), the permanent statistics file
// of 15 and later (discarded when recovery is needed), and an old
// backup_label.old (unlinked before backup_label is renamed to it).
func (m *Map) isTempFile(path string) bool {
	switch {
	case path == "backup_label.old":
		return true
	case path == "pg_stat/pgstat.stat" && m.cfg.Major >= 15:
		return true
	}
	if name, ok := strings.CutPrefix(path, walDir+"/"); ok {
		return strings.HasPrefix(name, "xlogtemp.") && !strings.Contains(name, "/")
	}
	_, name, ok := m.dbspaceFile(path)
	return ok && isTempRelName(name)
}

// dbspaceFile splits a path directly inside a database directory of a
// tablespace, base/<db>/<name> or pg_tblspc/<spc>/<version dir>/<db>/<name>,
// into that directory and the file name. These are the only places where
// the server looks for unlogged and temporary relation files at startup;
// like the server, it takes only all-digit database directory names.
func (m *Map) dbspaceFile(path string) (dir, name string, ok bool) {
	parts := strings.Split(path, "/")
	var db string
	switch {
	case len(parts) == 3 && parts[0] == "base":
		db = parts[1]
	case len(parts) == 5 && parts[0] == "pg_tblspc" && parts[1] != "" &&
		parts[2] == TablespaceVersionDir(m.cfg.Major, m.cfg.CatVersion):
		db = parts[3]
	default:
		return "", "", false
	}
	if db == "" || strings.TrimLeft(db, "0123456789") != "" || parts[len(parts)-1] == "" {
		return "", "", false
	}
	i := strings.LastIndexByte(path, '/')
	return path[:i], path[i+1:], true
}

// dbRel is a relation file number within one database directory.
type dbRel struct {
	dir string
	rel uint64
}

// parseDbspaceRel reads a path inside a database directory as the server's
// unlogged-relation reset does: a relation file number of one to ten
// digits, then optionally "_fsm", "_vm" or "_init", then optionally a
// segment number ".N". Leading zeros are accepted and compare by value, as
// the server parses them. Temporary relation files do not match.
func (m *Map) parseDbspaceRel(path string) (dbRel, ForkNumber, bool) {
	dir, name, ok := m.dbspaceFile(path)
	if !ok {
		return dbRel{}, 0, false
	}
	n := digitPrefix(name)
	if n == 0 || n > 10 {
		return dbRel{}, 0, false
	}
	rel, err := strconv.ParseUint(name[:n], 10, 64)
	if err != nil {
		return dbRel{}, 0, false
	}
	fork, rest, ok := cutForkAndSegment(name[n:])
	if !ok || rest != "" {
		return dbRel{}, 0, false
	}
	return dbRel{dir: dir, rel: rel}, fork, true
}

// isTempRelName tells whether a file name has the shape of a temporary
// relation's file: "t", digits (the backend), "_", digits (the relation),
// then optionally a fork suffix and a segment number.
func isTempRelName(name string) bool {
	rest, ok := strings.CutPrefix(name, "t")
	if !ok {
		return false
	}
	n := digitPrefix(rest)
	if n == 0 || n >= len(rest) || rest[n] != '_' {
		return false
	}
	rest = rest[n+1:]
	n = digitPrefix(rest)
	if n == 0 {
		return false
	}
	_, rest, ok = cutForkAndSegment(rest[n:])
	return ok && rest == ""
}

// cutForkAndSegment consumes an optional fork suffix ("_fsm", "_vm",
// "_init"; the main fork has none) and an optional segment suffix (".N")
// from the start of s and returns what is left. A suffix that starts but
// does not parse makes ok false.
func cutForkAndSegment(s string) (fork ForkNumber, rest string, ok bool) {
	fork = ForkMain
	if after, found := strings.CutPrefix(s, "_"); found {
		for f := ForkFSM; f <= ForkInit; f++ {
			if strings.HasPrefix(after, forkSuffix[f][1:]) {
				fork = f
				break
			}
		}
		if fork == ForkMain {
			return 0, s, false
		}
		s = after[len(forkSuffix[fork])-1:]
	}
	if after, found := strings.CutPrefix(s, "."); found {
		n := digitPrefix(after)
		if n == 0 {
			return 0, s, false
		}
		s = after[n:]
	}
	return fork, s, true
}

// digitPrefix is the number of ASCII digits s starts with.
func digitPrefix(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
