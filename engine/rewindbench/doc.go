// Package rewindbench measures pgrunbook's rewind engine against
// PostgreSQL 15's pg_rewind on the same diverged pair of clusters, side by
// side on three links: loopback, a 100 Mbit/s link and a 20 ms round-trip
// link.
//
// The package holds only benchmarks (and the unit tests of their parts);
// `make bench` runs them:
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
// the pristine target. Last, the new primary is settled (autovacuum off,
// VACUUM (FREEZE) and a checkpoint), so that it writes no WAL while the
// contenders run and every one of them fetches from the same source; the
// run ends by printing how far its WAL moved all the same.
//
// The default scale is 10 (a 160 MB database; it was 70 before the slow
// links): pg_rewind then copies about 450 MB, some 40 s at 100 Mbit/s,
// and the whole run, with the default rounds, takes about four minutes on
// two cores (a minute and a half for the single round at 100 Mbit/s,
// about a minute for the three rounds of each other link). The data is
// pgbench's as before, only less of it; PGRUNBOOK_BENCH_SCALE=70 gives the
// earlier 1 GB pair (about 2.2 GB copied by pg_rewind, three minutes per
// SQL contender at 100 Mbit/s).
//
// # Links
//
// The contenders rewind over each link in turn, connecting over TCP:
//
//   - loopback: straight to 127.0.0.1, no proxy.
//   - 100mbit: through in-process toxiproxy proxies on 127.0.0.1 whose
//     toxic lets 12 500 KB/s through in each direction. The rate is
//     shared by every connection of the rewind (toxiproxy's own bandwidth
//     toxic limits each connection by itself, which would give --jobs 4
//     four links); the latency is loopback's plus the proxy's.
//   - 20ms: through the same kind of proxies with toxiproxy's latency
//     toxic, 10 ms in each direction, and no bandwidth limit.
//
// A stream contender goes through two proxies of the link, one for its
// SQL connections and one for the stream, both paying the same toxics
// and sharing the one bandwidth. The proxies count what they carry.
//
// # Rounds
//
// On a machine shared with other work the wall time of one contender
// moves by 20-30% from one run to the next (pg_rewind on loopback: 2.65 s
// in one run, 3.30 s in the next), more than the gap between a ratio and
// its target, so one run per contender is not a measurement. Each link
// therefore runs in rounds: in every round each contender rewinds once,
// in the order below, so that the contenders interleave and share the
// machine's conditions of the moment. By default there are 3 rounds on
// loopback and at 20 ms, and 1 at 100 Mbit/s, where one pg_rewind run
// takes some 40 s and the ratio is far from its target;
// PGRUNBOOK_BENCH_ROUNDS sets every link's. A line after each round gives
// every contender's wall time in it and its ratio to pg_rewind's.
//
// What is reported of a contender is its median over its rounds, measure
// by measure (wall time, CPU times, bytes), and its ratios are computed
// round by round, against pg_rewind's run in the same round, and their
// median reported: a ratio within a round compares runs that met the
// same load, which a ratio of two medians would not. The median rather
// than the mean, so that one round slowed by other work does not move
// the result. The fastest and slowest round's wall time, and the lowest
// and highest ratio, show the noise the medians smooth.
//
// # Contenders
//
// Each contender rewinds a fresh copy of the target (cp -a then sync, not
// timed) from the running new primary with --source-server, in this
// order in every round:
//
//   - pg_rewind: PostgreSQL 15's, the baseline.
//   - pgrunbook_sql_jobs4: `pgrunbook rewind --jobs 4`, everything over
//     SQL as pg_rewind does.
//   - pgrunbook_stream: `pgrunbook rewind --jobs 4 --source-stream
//     --source-stream-token-file`: listings and pg_control still over SQL,
//     the file data from `pgrunbook rewind-serve -D <new primary's PGDATA>`
//     (started as the OS user postgres for each run, not timed; its ready
//     line gives the address and the token, which goes to a 0600 file
//     owned by postgres), zstd-compressed. The bench fails if the report
//     says the data came any other way.
//
// All get the same flags (-P, and --no-sync unless the sync variant is
// asked for), so the wall times compare like with like; the page cache is
// warm for all. pgrunbook skips what recovery never needs by default
// (engine.Options.Faithful is off), so it may fetch fewer bytes than
// pg_rewind.
//
// The metrics, per link and contender, each the median over the rounds:
// the wall time (ns/op, and wall s in the table; wall_min_s and
// wall_max_s the fastest and slowest round), cpu_s (the rewinder's own user+system time: on a machine
// shared with other work it is much steadier than the wall time),
// serve_cpu_s (rewind-serve's own CPU time, what the compression costs
// the source; stream only, as the PostgreSQL backends serving the SQL
// contenders are not measured), MB_fetched (pgrunbook's report bytes_fetched; pg_rewind's final "N/M kB
// (100%) copied" progress line), MB_transferred (the report's
// bytes_transferred: the compressed stream for pgrunbook_stream, the
// fetched bytes for the others), MB_wire (every byte the link's proxies
// carried both ways, protocol included; not on loopback), and for
// pgrunbook, ratio, cpu_ratio and bytes_ratio (transferred) against
// pg_rewind, each the median of the per-round ratios (ratio_min and
// ratio_max their spread). rounds says how many rewinds they come from:
// the benchmark line's iteration count is 1 whatever it is, since each
// contender's sub-benchmark only reports what its rounds measured, and
// -benchtime changes nothing. A table of the same numbers, every link and
// contender, with a note saying which columns are medians, is printed at
// the end.
//
// The benchmark checks that it compares working rewinds: every pgrunbook
// rewind's report must say the data came the contender's way, and the
// first copy rewound by each pgrunbook contender is started as a standby of the new
// primary, and once caught up its pgbench tables must equal the new
// primary's, and differ from what the old primary had.
//
// Knobs, as environment variables:
//
//	PGRUNBOOK_BENCH_LINKS  the links to run, in that order (default
//	                       "loopback,100mbit,20ms")
//	PGRUNBOOK_BENCH_CONTENDERS
//	                       a subset of pg_rewind, pgrunbook_sql_jobs4,
//	                       pgrunbook_stream (default: all; without
//	                       pg_rewind there are no ratios)
//	PGRUNBOOK_BENCH_ROUNDS the rounds per link, from 1 to 20, for every
//	                       link (default: 3 on loopback and 20ms, 1 on
//	                       100mbit)
//	PGRUNBOOK_BENCH_SCALE  pgbench scale factor (default 10, about 160 MB)
//	PGRUNBOOK_BENCH_SYNC   "off" (default): every contender runs with
//	                       --no-sync; "on": without it, so the final fsync
//	                       of the target is timed; "both": both variants
//	PGRUNBOOK_BENCH_DIR    where the clusters live (default: the system's
//	                       temporary directory); needs about 2.5 GB at the
//	                       default scale
//	PGRUNBOOK_BENCH_KEEP   when set, the stopped clusters and the last
//	                       round's rewound copy of each link and
//	                       contender stay in that directory afterwards,
//	                       for profiling by hand
//
// The benchmarks need root (the servers and the rewinders run as the OS
// user postgres) and skip otherwise.
package rewindbench
