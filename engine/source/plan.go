package source

import "github.com/pgrunbook/pgrunbook/engine/filemap"

// Plan turns decided file map entries (in their execution order) into the
// ranges to fetch, in pg_rewind's order: for each entry first one block for
// every changed block, then the whole file for COPY or the missing tail for
// COPY_TAIL. Blocks are blockSize bytes (BLCKSZ); consecutive blocks are
// merged into chunks by the remote source. The other actions (CREATE,
// TRUNCATE, REMOVE) fetch nothing; the caller applies them on the target.
func Plan(entries []*filemap.FileEntry, blockSize int64) []Range {
	var out []Range
	for _, e := range entries {
		for _, b := range e.Blocks.Blocks() {
			out = append(out, Range{Path: e.Path, Offset: int64(b) * blockSize, Length: blockSize})
		}
		switch e.Action {
		case filemap.ActionCopy:
			out = append(out, Range{Path: e.Path, Length: e.Source.Size, Whole: true})
		case filemap.ActionCopyTail:
			out = append(out, Range{Path: e.Path, Offset: e.TailFrom, Length: e.Source.Size - e.TailFrom})
		}
	}
	return out
}
