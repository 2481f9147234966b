// Package pgcluster runs real PostgreSQL 15 clusters for tests and for the
// lab: initdb, start, stop, promote, base backups that become streaming
// standbys, and SQL through pgx.
//
// PostgreSQL refuses to run as root, and the tests run as root, so every
// server-side program (initdb, pg_ctl, postgres, pg_basebackup, pg_rewind) is
// started as the OS user postgres. The package hands the directories it is
// given over to that user first, including making their ancestors searchable,
// because t.TempDir() creates root-only (0700) directories.
//
// Each cluster lives in its own directory:
//
//	<Dir>/data          the data directory (PGDATA)
//	<Dir>/sock          the unix socket directory (or a short temp dir when
//	                    <Dir> is too long for a socket path)
//	<Dir>/postgres.log  the server log; its tail is included in errors
//
// and listens on its own port (a free one on 127.0.0.1 unless Options.Port is
// set), so many clusters can run side by side without fighting over
// /var/run/postgresql/.s.PGSQL.5432.
//
// A primary and a streaming standby:
//
//	primary, err := pgcluster.Init(ctx, pgcluster.Options{Dir: t.TempDir(), AllowStreaming: true})
//	...
//	t.Cleanup(func() { primary.Destroy(context.Background()) })
//	if err := primary.Start(ctx); err != nil { ... }
//	standby, err := pgcluster.BaseBackup(ctx, primary, pgcluster.Options{Dir: t.TempDir()})
//	...
//	if err := standby.Start(ctx); err != nil { ... }
//	if err := primary.Exec(ctx, "postgres", "CREATE TABLE t (a int)"); err != nil { ... }
//	if err := primary.WaitForCatchup(ctx, standby); err != nil { ... }
//	if err := standby.Promote(ctx); err != nil { ... }
//
// For the lab, Options.NetNS runs the server inside a network namespace
// (through nsenter, as root, dropping to postgres) with ListenAddresses set
// to the namespace's address; TCPConnString is how other hosts reach it,
// while this package's own SQL keeps using the unix socket; Options.Cgroup
// puts every program run for the cluster, the server included, in a cgroup
// (the lab's per-host CPU budgets). Command runs any
// other program (psql, pg_rewind, pg_controldata) as postgres with a clean
// C-locale environment, and HandOver gives a directory made by the test to
// postgres.
//
// The settings are tuned for fast tests (fsync off, small shared_buffers and
// max_wal_size, a long checkpoint_timeout, wal_keep_size 320MB as upstream's
// rewind tests use); they are not production settings.
package pgcluster
