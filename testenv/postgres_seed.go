package testenv

import (
	"context"
	"fmt"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// SeedTables are the tables every lab primary has before any drill, as in
// the seed runbook (`\dt` shows t1, tbl, test), each with rows, in the
// postgres database; the standbys replicate them.
var SeedTables = []string{"t1", "tbl", "test"}

// seedSQL creates SeedTables. t1 is the big one, the table the drill
// updates on both sides of a split brain: 10000 rows spread over about
// 60 pages, so that a rewind has real blocks to copy.
const seedSQL = `
CREATE TABLE t1 (id int PRIMARY KEY, val text NOT NULL);
INSERT INTO t1 SELECT i, md5(i::text) FROM generate_series(1, 10000) i;
CREATE TABLE tbl (id int PRIMARY KEY, note text NOT NULL);
INSERT INTO tbl SELECT i, 'seed ' || i FROM generate_series(1, 100) i;
CREATE TABLE test (id serial PRIMARY KEY, note text NOT NULL, at timestamptz NOT NULL DEFAULT now());
INSERT INTO test (note) SELECT 'seed ' || i FROM generate_series(1, 10) i;
`

// seedTables creates SeedTables on primary.
func seedTables(ctx context.Context, primary *pgcluster.Cluster) error {
	if err := primary.Exec(ctx, "postgres", seedSQL); err != nil {
		return fmt.Errorf("create the seed tables on %s: %w", primary.Name, err)
	}
	return nil
}
