package filemap

import (
	"fmt"
	"sort"
	"strings"
)

// Decide applies pg_rewind's decision rules to every path and returns the
// entries sorted in execution order: by action (CREATE, COPY, COPY_TAIL,
// NONE, TRUNCATE, REMOVE), then by path ascending, except that removals are
// sorted by path descending so that a directory's contents go before it.
// With Config.Trim set, the files recovery never reads are then left
// unfetched (see Trim). The entries stay owned by the map; calling Decide
// again recomputes them.
func (m *Map) Decide() ([]*FileEntry, error) {
	out := make([]*FileEntry, 0, len(m.entries))
	var tc *trimContext
	if m.cfg.Trim != nil {
		tc = m.newTrimContext()
	}
	for _, e := range m.entries {
		if e.Skipped != SkipNone {
			e.Blocks, e.heldBlocks = e.heldBlocks, BlockSet{}
			e.Skipped, e.SkippedBytes = SkipNone, 0
		}
		a, err := m.decide(e)
		if err != nil {
			return nil, err
		}
		if tc != nil {
			a = m.trim(e, a, tc)
		}
		e.Action = a
		e.TailFrom, e.TruncateTo = 0, 0
		switch a {
		case ActionCopyTail:
			e.TailFrom = e.Target.Size
		case ActionTruncate:
			e.TruncateTo = e.Source.Size
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return entryLess(out[i], out[j]) })
	m.decided = out
	return out, nil
}

func entryLess(a, b *FileEntry) bool {
	if a.Action != b.Action {
		return a.Action < b.Action
	}
	if a.Action == ActionRemove {
		return a.Path > b.Path
	}
	return a.Path < b.Path
}

// decide is the rule table, in pg_rewind 15.18's order. The first matching
// rule wins.
func (m *Map) decide(e *FileEntry) (Action, error) {
	path := e.Path
	// 1. The control file is written last, from the source's image; macOS
	// Finder litter is never copied.
	if path == "global/pg_control" || strings.Contains(path, ".DS_Store") {
		return ActionNone, nil
	}
	// 2. Excluded paths are removed from the target if present.
	if IsExcluded(path) {
		m.debugf("entry \"%s\" excluded from source file list", path)
		if e.Target.Exists {
			return ActionRemove, nil
		}
		return ActionNone, nil
	}
	switch {
	case e.Source.Exists && !e.Target.Exists:
		// 3. Source only: create or copy in full. A relation file copied
		// here would be recreated by replay anyway; copying does no harm.
		switch e.Source.Type {
		case TypeDirectory, TypeSymlink:
			return ActionCreate, nil
		case TypeRegular:
			return ActionCopy, nil
		default:
			return ActionUndecided, fmt.Errorf("unknown file type for \"%s\"", path)
		}
	case e.Target.Exists && !e.Source.Exists:
		// 4. Target only: remove, unless the WAL reader needed it.
		if m.keepWAL[path] {
			m.debugf("Not removing file \"%s\" because it is required for recovery", path)
			return ActionNone, nil
		}
		return ActionRemove, nil
	case !e.Target.Exists && !e.Source.Exists:
		return ActionNone, nil
	}
	// 5. On both sides.
	if e.Source.Type != e.Target.Type {
		return ActionUndecided, fmt.Errorf("file \"%s\" is of different type in source and target", path)
	}
	if strings.HasSuffix(path, "PG_VERSION") {
		return ActionNone, nil
	}
	switch e.Source.Type {
	case TypeDirectory, TypeSymlink:
		// The target's link target is not compared, as in pg_rewind.
		return ActionNone, nil
	case TypeRegular:
	default:
		return ActionUndecided, fmt.Errorf("unknown file type for \"%s\"", path)
	}
	// 6. Anything that is not a main-fork relation file is copied whole:
	// configuration, pg_xact, other forks, and every WAL segment.
	if !e.IsRelFile {
		return ActionCopy, nil
	}
	// 7. Relation files: reconcile the sizes; changed blocks come from the
	// WAL scan, and the source's own later changes from replay.
	switch {
	case e.Target.Size < e.Source.Size:
		return ActionCopyTail, nil
	case e.Target.Size > e.Source.Size:
		return ActionTruncate, nil
	default:
		return ActionNone, nil
	}
}
