package rewindtest

// Mode is how a scenario runs the rewind, as upstream's run_pg_rewind does.
type Mode string

// The three modes of upstream's harness.
const (
	// Local rewinds from the stopped new primary's data directory
	// (--source-pgdata), after an immediate stop of the old primary, so
	// the tool must run crash recovery on the target first.
	Local Mode = "local"
	// Remote rewinds from the running new primary (--source-server, as
	// the minimally privileged rewind_user) with -R.
	Remote Mode = "remote"
	// Archive stops the old primary cleanly, moves all its WAL to an
	// archive directory, and rewinds locally with --restore-target-wal and
	// --no-ensure-shutdown, so the tool must fetch WAL via restore_command.
	Archive Mode = "archive"
)
