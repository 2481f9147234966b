// Package rewindtest is the rewind scenario suite: PostgreSQL's own
// pg_rewind TAP tests (src/bin/pg_rewind/t, REL_15), rewritten in Go, plus
// the seed failure this product exists for. The scenarios run real
// PostgreSQL 15 clusters (testenv/pgcluster) and a pg_rewind-compatible
// binary invoked with exactly the argv a user would type.
//
// Today the binary is PostgreSQL 15's own pg_rewind, the oracle. The same
// scenarios check our engine by swapping one value: the environment variable
// PGRUNBOOK_REWIND_BIN names the binary to run instead, for example a wrapper
// script that execs `pgrunbook rewind "$@"`:
//
//	cat > /usr/local/bin/pg_rewind-pgrunbook <<'SH'
//	#!/bin/sh
//	exec /path/to/bin/pgrunbook rewind "$@"
//	SH
//	chmod 755 /usr/local/bin/pg_rewind-pgrunbook
//	PGRUNBOOK_REWIND_BIN=/usr/local/bin/pg_rewind-pgrunbook go test ./engine/rewindtest
//
// A plain `go test ./engine/rewindtest` does both: TestEngineScenarios
// builds cmd/pgrunbook, puts such a wrapper in front of it and re-runs the
// package with PGRUNBOOK_REWIND_BIN set, so oracle and engine share every
// scenario and every assertion.
//
// The binary runs as the OS user postgres (pg_rewind refuses root), so it
// and every directory above it must be readable and searchable by postgres.
//
// The tests need root (they run the servers as postgres) and skip otherwise.
// Scenario map, by upstream file:
//
//	001_basic               TestBasic (local, remote, archive) with the local-mode pre-checks
//	002_databases           TestDatabases (local, remote; group access)
//	003_extrafiles          TestExtraFiles (local, remote)
//	004_pg_xlog_symlink     TestWALSymlink (local, remote)
//	005_same_timeline       TestSameTimeline (local)
//	006_options             TestOptions
//	007_standby_source      TestStandbySource (remote, cascade A→B→C)
//	008_min_recovery_point  TestMinRecoveryPoint (remote, three nodes)
//	009_growing_files       TestGrowingFiles (local)
//	010_keep_recycled_wals  TestKeepRecycledWAL (local)
//	(none; beyond 15's)     TestTablespace (local, remote; per-node absolute tablespace paths)
//	(none; seed notes)      TestPreconditions (different systems; no checksums nor wal_log_hints)
//	seed (shared/seed)      TestSeedFailure (remote; the "could not find previous WAL
//	                        record" failure, then fixed by -c or by staging the archive)
package rewindtest
