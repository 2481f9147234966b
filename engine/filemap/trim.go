package filemap

import "fmt"

// SkipReason is why a rewind that trims (Config.Trim) leaves a source file
// unfetched although pg_rewind 15 would fetch it.
type SkipReason int

// The skip reasons. SkipNone means the file is handled as pg_rewind would.
const (
	SkipNone SkipReason = iota
	// SkipWALBeforeRedo is a WAL segment that ends at or before the redo
	// point recovery starts from: replay never reads it.
	SkipWALBeforeRedo
	// SkipUnlogged is a fork other than the init fork of a relation whose
	// init fork the source has: recovery removes it when it starts and
	// rebuilds the main fork from the init fork when it ends.
	SkipUnlogged
	// SkipTemp is a temporary relation file, a temporary WAL file or
	// another file the server deletes when the rewound target starts
	// (pg_stat/pgstat.stat, backup_label.old).
	SkipTemp
	// SkipWALRecycled is a WAL segment file whose first byte lies beyond
	// the segment holding the source's WAL position (Trim.SourceWAL): a
	// pre-allocated or recycled segment that holds no WAL of the source's
	// history yet, only stale pages replay rejects.
	SkipWALRecycled
)

// SkipReasons lists the reasons a file can be skipped for, in report
// order.
var SkipReasons = []SkipReason{SkipWALBeforeRedo, SkipUnlogged, SkipTemp, SkipWALRecycled}

var skipNames = [...]string{
	SkipNone:          "none",
	SkipWALBeforeRedo: "wal_before_redo",
	SkipUnlogged:      "unlogged",
	SkipTemp:          "temp",
	SkipWALRecycled:   "wal_recycled",
}

// String returns the reason's name as the rewind report spells it.
func (r SkipReason) String() string {
	if r >= 0 && int(r) < len(skipNames) {
		return skipNames[r]
	}
	return "unknown"
}

// MarshalText renders the reason by name, so JSON maps read "unlogged".
func (r SkipReason) MarshalText() ([]byte, error) {
	if r < 0 || int(r) >= len(skipNames) {
		return nil, fmt.Errorf("marshal skip reason %d: unknown reason", int(r))
	}
	return []byte(r.String()), nil
}

// Trim turns on the rules that leave out what recovery of the rewound
// target never reads. pg_rewind 15 fetches all of it; a nil Trim in Config
// keeps the map faithful to pg_rewind.
type Trim struct {
	// Redo is where replay of the rewound target starts, the START WAL
	// LOCATION of its backup_label. Source WAL segments that end at or
	// before it are not fetched; zero turns the rule off.
	Redo uint64
	// SourceWAL is the source's WAL position read before its listing: the
	// insert position of a running primary, the furthest received or
	// replayed position of a running standby, the end of the shutdown
	// checkpoint of a stopped cluster. Source WAL segment files (any
	// timeline) that start beyond the segment holding it are not fetched;
	// zero, a position that could not be read, turns the rule off.
	SourceWAL uint64
	// WALSegSize is the WAL segment size from pg_control, needed to turn a
	// segment file name into the LSN range it holds.
	WALSegSize uint32
	// Unlogged skips the forks of unlogged relations that recovery
	// removes: every fork but the init fork of a relation whose init fork
	// the source has.
	Unlogged bool
	// Temp skips temporary relation files (t<backend>_<relfilenode>...),
	// temporary WAL files (pg_wal/xlogtemp.*) and the other files the
	// server deletes when the rewound target starts (pg_stat/pgstat.stat
	// from 15 on, backup_label.old).
	Temp bool
}

// trim applies the trimming rules to one entry after pg_rewind's rules
// chose faithful for it. A file is skipped only if faithful fetches from
// it (COPY, even of an empty file, COPY_TAIL, or changed blocks): it then
// does nothing (the target's own copy, if any, stays as it is), its
// changed blocks are set aside, and the bytes faithful would have fetched
// are kept in SkippedBytes. A TRUNCATE or a NONE without blocks fetches
// nothing and stays. A recycled WAL segment is the exception to leaving
// the target's copy: the target's file of that name is removed (see
// walRecycled).
func (m *Map) trim(e *FileEntry, faithful Action, tc *trimContext) Action {
	if !e.Source.Exists || e.Source.Type != TypeRegular || e.Path == "global/pg_control" || IsExcluded(e.Path) {
		return faithful
	}
	reason := m.skipReason(e.Path, tc)
	if reason == SkipNone {
		return faithful
	}
	if faithful != ActionCopy && faithful != ActionCopyTail && e.Blocks.Len() == 0 {
		return faithful
	}
	e.Skipped, e.SkippedBytes = reason, m.fetchBytes(e, faithful)
	e.heldBlocks, e.Blocks = e.Blocks, BlockSet{}
	m.debugf("not fetching \"%s\" (%s): recovery never reads it", e.Path, reason)
	if reason == SkipWALRecycled && e.Target.Exists {
		return ActionRemove
	}
	return ActionNone
}

// skipReason tells which trimming rule, if any, covers a source path.
func (m *Map) skipReason(path string, tc *trimContext) SkipReason {
	t := m.cfg.Trim
	switch {
	case t.Redo != 0 && m.walBeforeRedo(path):
		return SkipWALBeforeRedo
	case t.SourceWAL != 0 && m.walRecycled(path):
		return SkipWALRecycled
	case t.Temp && m.isTempFile(path):
		return SkipTemp
	case t.Unlogged && m.isUnloggedFork(path, tc):
		return SkipUnlogged
	}
	return SkipNone
}

// fetchBytes is what the entry's action and changed blocks fetch.
func (m *Map) fetchBytes(e *FileEntry, a Action) int64 {
	n := int64(e.Blocks.Len()) * m.cfg.BlockSize
	switch a {
	case ActionCopy:
		return e.Source.Size
	case ActionCopyTail:
		n += e.Source.Size - e.Target.Size
	}
	return n
}

// trimContext is what the trimming rules learn from the whole source
// listing before deciding any one path.
type trimContext struct {
	// initForks are the relations, per database directory, whose init
	// fork the source has.
	initForks map[dbRel]bool
}

// newTrimContext collects the source's init forks when the unlogged rule
// is on.
func (m *Map) newTrimContext() *trimContext {
	tc := &trimContext{}
	if m.cfg.Trim == nil || !m.cfg.Trim.Unlogged {
		return tc
	}
	tc.initForks = map[dbRel]bool{}
	for _, e := range m.entries {
		if !e.Source.Exists || e.Source.Type != TypeRegular {
			continue
		}
		if k, fork, ok := m.parseDbspaceRel(e.Path); ok && fork == ForkInit {
			tc.initForks[k] = true
		}
	}
	return tc
}

// isUnloggedFork tells whether path is a fork other than the init fork
// (main, fsm or vm, any segment) of a relation whose init fork the source
// has. Recovery of the rewound target, which then has that init fork,
// deletes such files before replay, and copies the init fork over the
// main fork when it ends. The source decides: a relation unlogged only on
// the target is handled as pg_rewind would, and its init fork is removed
// like any file the source lacks.
func (m *Map) isUnloggedFork(path string, tc *trimContext) bool {
	k, fork, ok := m.parseDbspaceRel(path)
	return ok && fork != ForkInit && tc.initForks[k]
}
