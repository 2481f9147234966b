// Package filemap decides, file by file, what a rewind has to do to turn the
// target data directory into a copy of the source's, exactly as PostgreSQL
// 15's pg_rewind does.
//
// Both directory listings are fed in (AddSource, AddTarget), then the blocks
// that the target's WAL says it changed after the divergence (AddBlock), and
// the WAL segments the WAL reader needed (KeepWAL). Decide then applies
// pg_rewind's exclusion list and its seven decision rules to every path and
// returns the entries in the order in which their actions must run:
//
//	m := filemap.New(filemap.Config{Major: 15, CatVersion: 202209061})
//	_ = src.List(ctx, m.AddSource)
//	_ = tgt.List(ctx, m.AddTarget)
//	_ = m.AddBlock(filemap.RelFileNode{Spc: 1663, DB: 5, Rel: 16384}, filemap.ForkMain, 7)
//	entries, err := m.Decide()
//
// Paths are always relative to the data directory, use '/' and are checked
// by CheckPath as they are listed: a source that names an absolute path, a
// ".." component or a NUL byte is refused before anything is written.
//
// Config.Trim turns on pgrunbook's own rules on top of pg_rewind's: source
// files that recovery of the rewound target never reads (WAL segments
// before the redo point, recycled WAL segments named past the source's WAL
// position, the non-init forks of unlogged relations, temporary relation
// and WAL files) are not fetched, and each such entry records why
// (FileEntry.Skipped) and how much pg_rewind would have fetched of it.
// Without Trim the map is pg_rewind 15's, line for line.
//
// Summary gives the byte counts behind pg_rewind's "need to copy N MB" line
// and the rewind report; WriteDebug prints the map in the format of
// pg_rewind's --debug output ("<path> (<ACTION>)" followed by "block N"
// lines), which scripts and tests grep.
package filemap
