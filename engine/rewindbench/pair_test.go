package rewindbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// rewindRole is the non-superuser --source-server role both contenders
// connect as.
const rewindRole = "rewinder"

// defaultScale makes pgbench's database about 160 MB, of which pg_rewind
// copies about 450 MB (the rewritten pgbench_accounts and its index, and
// the source's pg_wal since the last common checkpoint): some 40 s
// through the 100 Mbit/s link.
const defaultScale = 10

// benchConf overrides pgcluster's test settings where they would distort a
// 1 GB workload: 1MB of shared buffers and a 128MB max_wal_size would make
// the load crawl and recycle the WAL the rewind needs, and logging every
// statement would tax whichever contender sends more queries.
var benchConf = []string{
	"shared_buffers = 256MB",
	"max_wal_size = 8GB",
	"min_wal_size = 64MB",
	"wal_keep_size = 8GB",
	"log_statement = 'none'",
	"synchronous_commit = off",
}

// sourceConf keeps the new primary's pg_wal the size a production
// server's would be: both rewinders copy every segment in it, so a pg_wal
// holding the whole load would turn the benchmark into a file copy.
//
// Autovacuum is off on the source, and settle does its work once before
// the contenders: otherwise the source would write WAL between them (a
// vacuum, or the first read of a table setting hint bits, which
// wal_log_hints logs as a full page image of each page) and a later
// contender would fetch a bigger pg_wal than an earlier one.
var sourceConf = []string{
	"max_wal_size = 1GB",
	"wal_keep_size = 128MB",
	"autovacuum = off",
}

// pair is the diverged pair every contender rewinds: the stopped old
// primary (the pristine target) and the running new primary (the source).
type pair struct {
	root       string
	oldPrimary *pgcluster.Cluster
	newPrimary *pgcluster.Cluster
	// pgrunbook is the binary under test, built for this run.
	pgrunbook string
	// scale is the pgbench scale factor.
	scale int
	// dbBytes is pg_database_size of the loaded database before the
	// divergence.
	dbBytes int64
	// updatedRows and totalRows describe the old primary's UPDATE.
	updatedRows, totalRows int64
	// oldSums is the old primary's tables checksum at its stop.
	oldSums string
	// sourceLSN is where the new primary's WAL ended once settled.
	sourceLSN pgcluster.LSN
}

var (
	sharedOnce sync.Once
	sharedPair *pair
	sharedErr  error
)

// setupPair builds the diverged pair once per process; later callers get
// the same one (or the same error).
func setupPair(ctx context.Context) (*pair, error) {
	sharedOnce.Do(func() {
		sharedPair, sharedErr = newPair(ctx)
	})
	return sharedPair, sharedErr
}

// destroyPair stops the servers and removes everything setupPair made,
// unless PGRUNBOOK_BENCH_KEEP is set: then the stopped clusters stay for
// profiling a contender by hand, and their directory is printed.
func destroyPair() {
	if sharedPair == nil {
		return
	}
	if os.Getenv("PGRUNBOOK_BENCH_KEEP") != "" {
		fmt.Printf("kept the diverged pair in %s (pg1: the pristine target, pg2: the source)\n", sharedPair.root)
		if sharedPair.newPrimary != nil {
			_ = sharedPair.newPrimary.Stop(context.Background(), pgcluster.StopFast)
		}
		return
	}
	ctx := context.Background()
	_ = sharedPair.newPrimary.Destroy(ctx)
	_ = sharedPair.oldPrimary.Destroy(ctx)
	_ = os.RemoveAll(sharedPair.root)
}

func newPair(ctx context.Context) (*pair, error) {
	scale, err := envScale()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp(os.Getenv("PGRUNBOOK_BENCH_DIR"), "pgrunbook-bench")
	if err != nil {
		return nil, fmt.Errorf("create bench directory: %w", err)
	}
	p := &pair{root: root, scale: scale}
	if err := p.build(ctx); err != nil {
		sharedPair = p // so that destroyPair cleans up what exists
		return nil, err
	}
	return p, nil
}

func envScale() (int, error) {
	v := os.Getenv("PGRUNBOOK_BENCH_SCALE")
	if v == "" {
		return defaultScale, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("read PGRUNBOOK_BENCH_SCALE %q: want a whole number of at least 1", v)
	}
	return n, nil
}

// build makes the diverged pair, step by step.
func (p *pair) build(ctx context.Context) error {
	if err := p.buildBinary(ctx); err != nil {
		return err
	}
	var err error
	p.oldPrimary, err = pgcluster.Init(ctx, pgcluster.Options{
		Dir: filepath.Join(p.root, "pg1"), Name: "pg1", AllowStreaming: true, ExtraConf: benchConf,
	})
	if err != nil {
		return err
	}
	if err := p.oldPrimary.Start(ctx); err != nil {
		return err
	}
	p.newPrimary, err = pgcluster.BaseBackup(ctx, p.oldPrimary, pgcluster.Options{
		Dir: filepath.Join(p.root, "pg2"), Name: "pg2", ExtraConf: append(benchConf, sourceConf...),
	})
	if err != nil {
		return err
	}
	if err := p.newPrimary.Start(ctx); err != nil {
		return err
	}
	if err := p.load(ctx); err != nil {
		return err
	}
	if err := p.failOver(ctx); err != nil {
		return err
	}
	if err := p.diverge(ctx); err != nil {
		return err
	}
	return p.settle(ctx)
}

// buildBinary builds cmd/pgrunbook where postgres can run it.
func (p *pair) buildBinary(ctx context.Context) error {
	dir := filepath.Join(p.root, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	p.pgrunbook = filepath.Join(dir, "pgrunbook")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.CommandContext(ctx, goTool, "build", "-o", p.pgrunbook, "github.com/pgrunbook/pgrunbook/cmd/pgrunbook")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build pgrunbook: %w\n%s", err, out)
	}
	return pgcluster.HandOver(dir)
}

// load fills the primary with pgbench's tables and waits for the standby.
func (p *pair) load(ctx context.Context) error {
	c := p.oldPrimary
	// G: server-side data generation, one INSERT ... SELECT per table,
	// much faster than COPY from the client on two cores; v and p as
	// pgbench's default (vacuum, primary keys).
	cmd, err := c.Command(ctx, c.Bin("pgbench"), "-i", "-q", "-I", "dtGvp", "-s", strconv.Itoa(p.scale),
		"-h", c.SocketDir, "-p", strconv.Itoa(c.Port), "-U", pgcluster.Superuser, "postgres")
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i -s %d on %s: %w\n%s", p.scale, c.Name, err, out)
	}
	// A checkpoint after the load, as a real server would have taken one
	// since: it is the last common checkpoint, so the rewind replays only
	// the divergence, not the load.
	if err := c.Checkpoint(ctx); err != nil {
		return err
	}
	size, err := c.QueryValue(ctx, "postgres", "SELECT pg_database_size('postgres')")
	if err != nil {
		return err
	}
	if p.dbBytes, err = strconv.ParseInt(size, 10, 64); err != nil {
		return fmt.Errorf("read database size of %s: %w", c.Name, err)
	}
	return c.WaitForCatchup(ctx, p.newPrimary)
}

// failOver promotes the standby, whose first checkpoint on the new
// timeline is what tells a rewind the source has diverged, and gives it
// a few writes of its own and the rewind role.
func (p *pair) failOver(ctx context.Context) error {
	c := p.newPrimary
	if err := c.Promote(ctx); err != nil {
		return err
	}
	// A slot for the old primary, as a failover tool would make: it keeps
	// the new timeline's WAL from the promotion on, which the rewound node
	// replays; the new primary's own checkpoints would remove it
	// otherwise (reading the loaded tables sets hint bits, and with
	// wal_log_hints that writes a full page image of each).
	if err := c.Exec(ctx, "postgres", "SELECT pg_create_physical_replication_slot('pg1', true)"); err != nil {
		return err
	}
	if err := c.Checkpoint(ctx); err != nil {
		return err
	}
	if err := c.CreateRewindRole(ctx, rewindRole); err != nil {
		return err
	}
	return c.Exec(ctx, "postgres", `
		UPDATE pgbench_branches SET bbalance = bbalance + 7;
		UPDATE pgbench_accounts SET abalance = abalance - 5 WHERE aid % 1000 = 1;
		INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
			SELECT 1, 1, g, 5, now() FROM generate_series(1, 1000) g;
		CHECKPOINT`)
}

// diverge writes on the old primary after the failover: every third
// account changes, which rewrites every heap page of pgbench_accounts and
// appends a third more, then stops it cleanly.
func (p *pair) diverge(ctx context.Context) error {
	c := p.oldPrimary
	if err := c.Exec(ctx, "postgres", `
		UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 3 = 0;
		INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
			SELECT 1, 1, g, 1, now() FROM generate_series(1, 200000) g;
		CHECKPOINT`); err != nil {
		return err
	}
	rows, err := c.Query(ctx, "postgres", "SELECT count(*) FILTER (WHERE aid % 3 = 0), count(*) FROM pgbench_accounts")
	if err != nil {
		return err
	}
	if p.updatedRows, err = strconv.ParseInt(rows[0][0], 10, 64); err != nil {
		return fmt.Errorf("count updated rows of %s: %w", c.Name, err)
	}
	if p.totalRows, err = strconv.ParseInt(rows[0][1], 10, 64); err != nil {
		return fmt.Errorf("count rows of %s: %w", c.Name, err)
	}
	if p.oldSums, err = tableSums(ctx, c); err != nil {
		return err
	}
	return c.Stop(ctx, pgcluster.StopFast)
}

// settle leaves the new primary with nothing more to write while the
// contenders rewind from it: VACUUM (FREEZE) sets every hint bit and
// freezes every row (what the verification's reads, or autovacuum, would
// otherwise log later), then a checkpoint. sourceLSN records where its
// WAL then ends.
func (p *pair) settle(ctx context.Context) error {
	c := p.newPrimary
	if err := c.Exec(ctx, "postgres", "VACUUM (FREEZE, ANALYZE)"); err != nil {
		return err
	}
	if err := c.Checkpoint(ctx); err != nil {
		return err
	}
	lsn, err := c.CurrentLSN(ctx)
	if err != nil {
		return err
	}
	p.sourceLSN = lsn
	return nil
}

// sourceMoved says how far the new primary's WAL moved since settle, so
// that a run whose source changed under it says so; 0 when it did not.
func (p *pair) sourceMoved(ctx context.Context) (int64, error) {
	lsn, err := p.newPrimary.CurrentLSN(ctx)
	if err != nil {
		return 0, err
	}
	return int64(lsn) - int64(p.sourceLSN), nil
}

// sumsQuery fingerprints pgbench's tables: row counts, balances and a
// hash over every account's (aid, abalance), cheap enough for millions of
// rows and sensitive to any row the rewind got wrong.
const sumsQuery = `SELECT
	(SELECT count(*) || ' ' || sum(abalance) || ' ' || sum(hashint8(aid::bigint * 1000003 + abalance)::bigint) FROM pgbench_accounts)
	|| ' / ' || (SELECT count(*) || ' ' || sum(delta) FROM pgbench_history)
	|| ' / ' || (SELECT sum(bbalance) FROM pgbench_branches)`

func tableSums(ctx context.Context, c *pgcluster.Cluster) (string, error) {
	v, err := c.QueryValue(ctx, "postgres", sumsQuery)
	if err != nil {
		return "", fmt.Errorf("sum pgbench tables of %s: %w", c.Name, err)
	}
	return v, nil
}
