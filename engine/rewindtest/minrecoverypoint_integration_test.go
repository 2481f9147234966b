package rewindtest

import (
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestMinRecoveryPoint is upstream's 008_min_recovery_point: the target is a
// standby shut down in recovery with WAL beyond its last restartpoint, on a
// timeline whose fork from the source's history lies before that WAL. A
// tool that takes the target's end of WAL from the checkpoint instead of
// minRecoveryPoint concludes wrongly that no rewind is needed.
func TestMinRecoveryPoint(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ctx := testContext(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	node1 := NewCluster(t, ctx, pgcluster.Options{Name: "node_1", AllowStreaming: true})
	must(node1.Start(ctx))
	must(node1.Exec(ctx, "postgres", "CREATE TABLE public.foo (t TEXT)"))
	must(node1.Exec(ctx, "postgres", "CREATE TABLE public.bar (t TEXT)"))
	must(node1.Exec(ctx, "postgres", "INSERT INTO public.bar VALUES ('in both')"))

	node2 := NewStandby(t, ctx, node1, pgcluster.Options{Name: "node_2"})
	must(node2.Start(ctx))
	node3 := NewStandby(t, ctx, node1, pgcluster.Options{Name: "node_3"})
	must(node3.Start(ctx))
	must(node1.WaitForCatchup(ctx, node2))
	must(node1.WaitForCatchup(ctx, node3))

	// Node 3 becomes the primary on timeline 2; 1 and 2 follow it.
	must(node1.Stop(ctx, pgcluster.StopFast))
	must(node3.Promote(ctx))
	must(node1.FollowNew(ctx, node3))
	must(node1.Start(ctx))
	must(node2.FollowNew(ctx, node3))

	// Node 1 is promoted too (timeline 3): a split brain.
	must(node1.Promote(ctx))
	// The control file shows timeline 3 only after a checkpoint.
	must(node1.Checkpoint(ctx))
	must(node1.Exec(ctx, "postgres", "INSERT INTO public.foo (t) VALUES ('keep this')"))
	// More transactions push the XID counter on, so that rows whose
	// commit status was not rewound would show.
	must(node1.Exec(ctx, "postgres", "INSERT INTO public.foo (t) VALUES ('and this')"))
	must(node1.Exec(ctx, "postgres", "INSERT INTO public.foo (t) VALUES ('and this too')"))

	// This row reaches node 2 on timeline 2 and must be rewound away.
	must(node3.Exec(ctx, "postgres", "INSERT INTO public.bar (t) VALUES ('rewind this')"))
	must(node3.WaitForCatchup(ctx, node2))
	CheckQuery(t, ctx, node2, "SELECT count(*) > 1 FROM public.bar", "t")

	// Node 2 stops in recovery with WAL past its last restartpoint.
	must(node2.Stop(ctx, pgcluster.StopFast))
	must(node3.Stop(ctx, pgcluster.StopFast))

	saved := filepath.Join(t.TempDir(), "node_2-postgresql.conf")
	must(copyFile(node2.ConfPath(), saved))
	s := &Scenario{T: t, Ctx: ctx, Rewinder: RewinderFromEnv(), Primary: node2}
	s.RewindOK("rewind detects that a rewind is needed",
		"--source-server="+node1.ConnString(pgcluster.Superuser), "--target-pgdata="+node2.DataDir)
	s.restoreConf(saved)
	must(node2.Start(ctx))

	must(node2.Checkpoint(ctx))
	CheckQuery(t, ctx, node2, "SELECT * FROM public.foo", "keep this", "and this", "and this too")
	CheckQuery(t, ctx, node2, "SELECT * FROM public.bar", "in both")
}
