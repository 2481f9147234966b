package engine

import (
	"io"

	"github.com/pgrunbook/pgrunbook/engine/source/stream"
)

// Options are the settings of one rewind; they mirror pg_rewind 15's
// command-line options, plus pgrunbook's own (Jobs, BinDir, OnProgress).
type Options struct {
	// TargetDir is the data directory to rewind (-D, --target-pgdata).
	TargetDir string
	// SourceDir is a stopped source cluster's data directory
	// (--source-pgdata). Exactly one of SourceDir and SourceConninfo is set.
	SourceDir string
	// SourceConninfo is a libpq connection string of a running source
	// server (--source-server).
	SourceConninfo string
	// SourceStream is the HOST:PORT of a `pgrunbook rewind-serve` on the
	// source host (--source-stream). It needs SourceConninfo: listings,
	// pg_control, history files and the insert LSN still come over SQL;
	// only the file ranges come over the stream, zstd-compressed when that
	// is faster (see SourceStreamCompress).
	SourceStream string
	// SourceStreamToken is the token the stream server printed (64 hex
	// digits, surrounding white space ignored); it never goes on a
	// command line.
	SourceStreamToken string
	// SourceStreamCompress says how rewind-serve compresses the stream
	// (--source-stream-compress): the zero value, auto, lets it compress
	// while the link is slower than its compressors and send raw while the
	// link keeps up; always and never force either.
	SourceStreamCompress stream.Compression

	// DryRun does everything except writing to the target (-n).
	DryRun bool
	// NoSync skips the final fsync of the target (-N).
	NoSync bool
	// WriteRecoveryConf makes the target a standby of the source server
	// afterwards: standby.signal and primary_conninfo (-R).
	WriteRecoveryConf bool
	// RestoreTargetWAL fetches target WAL segments missing from pg_wal with
	// the target's restore_command (-c).
	RestoreTargetWAL bool
	// NoEnsureShutdown refuses an uncleanly shut down target instead of
	// running single-user crash recovery on it (--no-ensure-shutdown).
	NoEnsureShutdown bool
	// ConfigFile is the target's main configuration file, passed to the
	// postgres runs as config_file when it lives outside the data
	// directory (--config-file).
	ConfigFile string
	// KeepConfig keeps the target's own configuration files (see
	// IsConfigFile) instead of copying the source's: pgrunbook's own
	// option (--keep-config), off by default as in pg_rewind.
	KeepConfig bool
	// KeepFiles are further paths, relative to the target data directory
	// or absolute inside it, that the rewind leaves as the target has them
	// (--keep-file), with or without KeepConfig.
	KeepFiles []string
	// Faithful copies exactly what pg_rewind 15 copies. By default the
	// rewind leaves out what recovery of the rewound target never reads:
	// source WAL segments that end at or before the backup_label's redo
	// point, the non-init forks of unlogged relations, and temporary
	// relation and WAL files (--faithful turns that off).
	Faithful bool

	// Jobs is the number of connections fetching from a source server in
	// parallel (--jobs); below 1 means 1.
	Jobs int
	// BinDir is where the postgres binary of the target's major version
	// lives, for crash recovery and reading restore_command. Empty means
	// /usr/lib/postgresql/<major>/bin (from the target's PG_VERSION), then
	// the PATH.
	BinDir string

	// Log receives every message; the caller filters by level (pg_rewind
	// prints LevelInfo always, LevelProgress with -P, LevelDebug with
	// --debug). Nil discards them.
	Log Logger
	// OnProgress, when set, is called as the rewind moves through its
	// phases and after every chunk copied. It may be called from several
	// goroutines, but never concurrently, and must return quickly; it is
	// the caller's job to throttle what it prints.
	OnProgress func(Progress)
	// ChildStdout and ChildStderr receive the output of the postgres
	// child processes (single-user crash recovery). Nil discards it.
	ChildStdout, ChildStderr io.Writer
}
