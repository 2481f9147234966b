// Package engine is pgrunbook's rewind: it turns the data directory of a
// failed-over PostgreSQL primary (the target) back into a copy of the new
// primary (the source), so that it can rejoin as a standby, the way
// PostgreSQL 15's pg_rewind does.
//
// Rewind runs pg_rewind's steps as small named functions, each checking the
// state it depends on before acting:
//
//  1. read the target's pg_control and, unless told not to, finish an
//     unclean shutdown with single-user crash recovery;
//  2. read the source's pg_control and check that both clusters can be
//     rewound (same system, a checked major version, checksums or
//     wal_log_hints, clean shutdowns);
//  3. find where the timelines diverged and whether the target went past
//     that point at all;
//  4. walk the target's WAL back to the last common checkpoint, then forward
//     to its end, collecting every block the target changed;
//  5. list both data directories, decide per file (package filemap), copy
//     what differs (packages source and target);
//  6. write backup_label and a new pg_control that make the target replay
//     the source's WAL from the common checkpoint, then sync.
//
// It goes beyond pg_rewind where pg_rewind is known to be wrong: on the
// same timeline it compares positions when it can know the source's end,
// so a target that is ahead fails with an explanation instead of "no
// rewind required"; a target that ends before the divergence needs no
// rewind (pg_rewind 15 asserts equality there); every target WAL segment
// from the common checkpoint's redo through the divergence is kept, not
// only those the backward walk opened; and -R replaces an existing
// primary_conninfo instead of appending a second one.
//
// A minimal call:
//
//	rep, err := engine.Rewind(ctx, engine.Options{
//		TargetDir:      "/var/lib/postgresql/15/main",
//		SourceConninfo: "host=10.77.0.12 user=rewind_user dbname=postgres",
//		Log: func(l engine.Level, msg string) { log.Print(msg) },
//	})
//
// Before its first change the rewind records itself outside the data
// directory: a marker (marker.go) and a scan record of what it read in the
// target's WAL (scanrecord.go). Until the new pg_control is written last,
// the target's pg_control is fenced so that PostgreSQL refuses to start it
// (markerfence.go). A rerun after an interruption resumes from the record,
// since the target's WAL is no longer what it was: WAL segment files are
// overwritten in place and recycled rather than freed (walreuse.go).
package engine
