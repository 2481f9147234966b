// Package rewindbench measures pgrunbook's rewind engine against
// PostgreSQL 15's pg_rewind on the same diverged pair of clusters.
//
// The package holds only benchmarks (and the unit tests of their output
// parsing); `make bench` runs them:
//
//	go test -run '^$' -bench . -benchtime 1x ./engine/rewindbench/
//
// Setup, done once per run and shared by every sub-benchmark: a primary
// loaded by `pgbench -i` (server-side generation, all tables WAL-logged),
// a streaming standby, the standby promoted and checkpointed, then on the
// old primary an UPDATE of every third pgbench_accounts row plus inserts
// into pgbench_history (the old primary's writes touch every heap page of
// pgbench_accounts and grow it by about a third), a few writes on the new
// primary, and a clean stop of the old primary. The stopped old primary is
// the pristine target.
//
// Each contender then rewinds a fresh copy of that target (cp -a, not
// timed) from the running new primary with --source-server: pg_rewind,
// and `pgrunbook rewind` with --jobs 1 and --jobs 4. Both programs get the
// same flags (-P, and --no-sync unless the sync variant is asked for), so
// the wall times compare like with like; the page cache is warm for both.
// The metrics are the wall time (ns/op), MB_fetched (pgrunbook's report
// bytes_fetched; pg_rewind's final "N/M kB (100%) copied" progress line),
// and for pgrunbook, ratio (its wall time over pg_rewind's) and
// bytes_ratio. cpu_s is the rewinder's own user+system time and, for
// pgrunbook, cpu_ratio its ratio to pg_rewind's: on a machine shared with
// other work it is much steadier than the wall time. A table of the same
// numbers is printed at the end.
//
// The benchmark checks that it compares working rewinds: the copy rewound
// by `pgrunbook rewind --jobs 4` is started as a standby of the new
// primary, and once caught up its pgbench tables must equal the new
// primary's, and differ from what the old primary had.
//
// Knobs, as environment variables:
//
//	PGRUNBOOK_BENCH_SCALE  pgbench scale factor (default 70, about 1.1 GB)
//	PGRUNBOOK_BENCH_SYNC   "off" (default): every contender runs with
//	                       --no-sync; "on": without it, so the final fsync
//	                       of the target is timed; "both": both variants
//	PGRUNBOOK_BENCH_DIR    where the clusters live (default: the system's
//	                       temporary directory); needs about 6 GB
//	PGRUNBOOK_BENCH_KEEP   when set, the stopped clusters stay in that
//	                       directory afterwards, for profiling by hand
//
// The benchmarks need root (the servers run as the OS user postgres) and
// skip otherwise.
package rewindbench
