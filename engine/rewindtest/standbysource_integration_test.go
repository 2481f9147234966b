package rewindtest

import (
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestStandbySource is upstream's 007_standby_source: the source is itself a
// standby. A streams to B, B cascades to C; C is promoted and diverges; C
// is rewound from B (not from the primary) and must then follow B again,
// receiving A's later writes through the cascade.
func TestStandbySource(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ctx := testContext(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	a := NewCluster(t, ctx, pgcluster.Options{Name: "node_a", AllowStreaming: true})
	must(a.Start(ctx))
	must(a.Exec(ctx, "postgres", "CREATE TABLE tbl1 (d text)"))
	must(a.Exec(ctx, "postgres", "INSERT INTO tbl1 VALUES ('in A')"))
	must(a.Checkpoint(ctx))

	b := NewStandby(t, ctx, a, pgcluster.Options{Name: "node_b"})
	must(b.Start(ctx))
	c := NewStandby(t, ctx, b, pgcluster.Options{Name: "node_c"})
	must(c.Start(ctx))

	must(a.Exec(ctx, "postgres", "INSERT INTO tbl1 VALUES ('in A, before promotion')"))
	must(a.Checkpoint(ctx))
	lsn, err := a.CurrentLSN(ctx)
	must(err)
	must(b.WaitReplay(ctx, lsn))
	must(c.WaitReplay(ctx, lsn))

	must(c.Promote(ctx))
	must(c.Checkpoint(ctx))
	must(a.Exec(ctx, "postgres", "INSERT INTO tbl1 VALUES ('in A, after C was promoted')"))
	must(a.WaitForCatchup(ctx, b))
	must(c.Exec(ctx, "postgres", "INSERT INTO tbl1 VALUES ('in C, after C was promoted')"))

	must(c.Stop(ctx, pgcluster.StopFast))
	saved := filepath.Join(t.TempDir(), "node_c-postgresql.conf")
	must(copyFile(c.ConfPath(), saved))

	s := &Scenario{T: t, Ctx: ctx, Rewinder: RewinderFromEnv(), Primary: c}
	s.RewindOK("rewind from a standby source", "--debug",
		"--source-server", b.ConnString(pgcluster.Superuser), "--target-pgdata="+c.DataDir,
		"--no-sync", "--write-recovery-conf")
	s.restoreConf(saved)
	must(c.Start(ctx))

	CheckQuery(t, ctx, c, "SELECT * FROM tbl1", "in A", "in A, before promotion", "in A, after C was promoted")

	must(a.Exec(ctx, "postgres", "INSERT INTO tbl1 VALUES ('in A, after rewind')"))
	lsn, err = a.CurrentLSN(ctx)
	must(err)
	must(c.WaitReplay(ctx, lsn))
	CheckQuery(t, ctx, c, "SELECT * FROM tbl1",
		"in A", "in A, before promotion", "in A, after C was promoted", "in A, after rewind")
}
