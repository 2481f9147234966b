package target

import (
	"fmt"

	"github.com/pgrunbook/pgrunbook/engine/filemap"
)

// Apply performs the part of an entry's action that needs no data from the
// source: CREATE makes the directory or link, COPY truncates (or creates)
// the target file ready for the fetched bytes, TRUNCATE cuts the file, and
// REMOVE deletes the target path according to its type on the target. NONE
// and COPY_TAIL do nothing here; their bytes come from the fetch.
//
// Run the entries in their decided order: directories are created before
// the files inside them, and removals come last, children first.
func (w *Writer) Apply(e *filemap.FileEntry) error {
	switch e.Action {
	case filemap.ActionCreate:
		return w.Create(e)
	case filemap.ActionCopy:
		return w.BeginCopy(e.Path)
	case filemap.ActionTruncate:
		return w.Truncate(e.Path, e.TruncateTo)
	case filemap.ActionRemove:
		return w.Remove(e.Path, e.Target.Type)
	case filemap.ActionNone, filemap.ActionCopyTail:
		return nil
	default:
		return fmt.Errorf("apply %s to \"%s\": action not decided", e.Action, e.Path)
	}
}
