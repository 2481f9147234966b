package engine_test

import (
	"os"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestSameTimelineAhead is the case pg_rewind gets wrong: two copies of one
// cluster both ran as primaries without a promotion, so both are on
// timeline 1, and the target wrote further than the stopped source.
// pg_rewind says "no rewind required" and leaves a node that can never
// follow the source; the engine compares the two ends of WAL, and the WAL
// bytes at the target's latest checkpoint, and refuses with an
// explanation. A target that is a true prefix of the source still needs
// no rewind.
func TestSameTimelineAhead(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	source := s.Primary
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int)")
	must(t, source.Stop(ctx, pgcluster.StopFast))

	// The target is a file copy of the stopped source, started on its
	// own with its own port and socket, which then writes more.
	tgt := rewindtest.NewCluster(t, ctx, pgcluster.Options{Name: "copy", AllowStreaming: true})
	conf, err := os.ReadFile(tgt.ConfPath())
	must(t, err)
	must(t, os.RemoveAll(tgt.DataDir))
	copyTree(t, source.DataDir, tgt.DataDir)
	must(t, os.WriteFile(tgt.ConfPath(), conf, 0o600))
	must(t, pgcluster.HandOver(tgt.ConfPath()))
	must(t, tgt.Start(ctx))
	must(t, tgt.Exec(ctx, "postgres", "INSERT INTO t SELECT generate_series(1, 10000)"))
	must(t, tgt.Stop(ctx, pgcluster.StopFast))

	// The source has everything the target has: nothing to rewind.
	res := run(t, s, ours, "--no-sync", "--source-pgdata", tgt.DataDir, "--target-pgdata", source.DataDir)
	if !strings.Contains(res.Stderr, "no rewind required") {
		t.Fatalf("a target behind on the same timeline needs no rewind\n%s", res)
	}

	// The target went further than the source.
	args := []string{"--no-sync", "--source-pgdata", source.DataDir, "--target-pgdata", tgt.DataDir}
	oracle := run(t, s, rewindtest.Rewinder{Path: rewindtest.DefaultBin}, args...)
	if !strings.Contains(oracle.Stderr, "no rewind required") {
		t.Fatalf("pg_rewind 15 was expected to miss this case\n%s", oracle)
	}
	res, err = ours.Run(ctx, args...)
	must(t, err)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "pg_rewind: error: target server is ahead of the source on timeline 1") {
		t.Fatalf("the engine should refuse a target ahead on the same timeline\n%s", res)
	}

	// Now the source writes even more, differently: the target is behind
	// it but forked.
	must(t, source.Start(ctx))
	must(t, source.Exec(ctx, "postgres", "INSERT INTO t SELECT generate_series(1, 30000)"))
	must(t, source.Stop(ctx, pgcluster.StopFast))
	oracle = run(t, s, rewindtest.Rewinder{Path: rewindtest.DefaultBin}, args...)
	if !strings.Contains(oracle.Stderr, "no rewind required") {
		t.Fatalf("pg_rewind 15 was expected to miss this case\n%s", oracle)
	}
	res, err = ours.Run(ctx, args...)
	must(t, err)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "pg_rewind: error: source and target cluster are on timeline 1 but their WAL differs at") {
		t.Fatalf("the engine should refuse a target forked without a promotion\n%s", res)
	}
}

// TestSameTimelineRemote is the everyday same-timeline case: a standby that
// was stopped while its primary went on needs no rewind. The engine must
// agree, after actually comparing its WAL with the running primary's over
// SQL (no "not comparing" note in the debug output).
func TestSameTimelineRemote(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int)")
	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("INSERT INTO t SELECT generate_series(1, 1000)")
	must(t, s.Primary.WaitForCatchup(ctx, s.Standby))
	must(t, s.Standby.Stop(ctx, pgcluster.StopFast))
	s.PrimarySQL("INSERT INTO t SELECT generate_series(1, 1000)")

	res := run(t, s, ours, "--debug", "--no-sync", "--source-server", s.Primary.ConnString(rewindtest.RewindRole),
		"--target-pgdata", s.Standby.DataDir)
	if !strings.Contains(res.Stderr, "no rewind required") || strings.Contains(res.Stderr, "not comparing") {
		t.Fatalf("a lagging standby needs no rewind, and its WAL should have been compared\n%s", res)
	}
}
