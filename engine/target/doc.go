// Package target writes a rewind's changes into the target data directory:
// whole-file copies, ranges, truncations, removals, new directories and
// tablespace links, backup_label and pg_control, and the final fsync of the
// whole tree.
//
// The writer behaves like pg_rewind's file operations: new files and
// directories get the modes the target data directory implies (0600/0700,
// or 0640/0750 when the directory allows group access), a whole-file copy
// truncates the target file when it begins, a range that the source reports
// as vanished unlinks the target file (missing is fine), and errors use
// pg_rewind's wording ("could not open target file ..."). Every path is
// checked again at write time, so nothing lands outside the data directory
// even if a caller skipped the file map's check. In dry-run mode every
// operation succeeds without touching the disk.
//
//	w, err := target.Open("/var/lib/postgresql/15/main", target.Options{})
//	...
//	defer w.Close()
//	if err := w.BeginCopy("postgresql.conf"); err != nil { ... }
//	err = src.Fetch(ctx, ranges, w.Write) // Write matches source.Sink
//	...
//	err = w.Sync(ctx)
//
// Write is safe for concurrent use on distinct ranges, which is what a
// parallel fetch produces.
package target
