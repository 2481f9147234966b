// Package remote is the --source-server source: a live PostgreSQL server
// (primary or standby) read over an ordinary SQL connection with pgx, the
// way pg_rewind 14+ reads it.
//
// The session is made inert and read-only first (statement, lock and
// idle-in-transaction timeouts off, default_transaction_read_only on, an
// empty search_path), the server must run with full_page_writes = on, and
// the role must be able to execute the four functions pg_rewind needs:
//
//	GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean) TO rewind_user;
//	GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_file(text, boolean) TO rewind_user;
//	GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text) TO rewind_user;
//	GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO rewind_user;
//
// Nothing is written on the source (no temporary table), so a hot standby
// works as a source. The listing is one recursive query over pg_ls_dir and
// pg_stat_file; file contents come from a prepared statement over unnest of
// three arrays (paths, offsets, lengths) calling pg_read_binary_file, in
// chunks of at most 1 MiB and at most 1000 chunks per query, with binary
// results whose order and offsets are checked. A NULL chunk means the file
// vanished on the source.
//
// With Options.Jobs > 1 the fetch runs on that many connections at once;
// ranges are sharded by file, largest files first, so each file is written
// by one connection's goroutine. The further connections open in parallel,
// in the background from Open on, while the listing and the small reads run.
//
// Round trips are counted, as pg_rewind's users run it across slow links:
// the session settings and checks are one multi-statement query, the
// one-off statements (listing, whole small files, WAL positions) run
// unprepared in one round trip each, and once the first connection found
// that the server refuses TLS under sslmode=prefer, the others connect in
// plain text at once instead of being refused again.
//
// Passwords never appear in errors: every error names the connection by its
// redacted connection string and has the password text scrubbed.
//
//	src, err := remote.Open(ctx, "host=10.77.0.12 user=rewind_user dbname=postgres", remote.Options{Jobs: 4})
//	...
//	defer src.Close(ctx)
package remote
