package rewindtest

import (
	"regexp"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestKeepRecycledWAL is upstream's 010_keep_recycled_wals: the old primary
// holds a WAL segment between the last common checkpoint and the divergence
// that never reached the archive and that the new primary no longer has.
// Recovery after the rewind needs it, so the tool must not remove it.
func TestKeepRecycledWAL(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ctx := testContext(t)
	archive := t.TempDir()
	s := NewScenario(t, pgcluster.Options{ArchiveDir: archive})
	s.StartPrimary()
	s.CreateStandby(pgcluster.Options{RestoreDir: archive})
	s.PrimarySQL("CHECKPOINT") // the last common checkpoint

	// From here on nothing reaches the archive.
	s.must(s.Primary.AppendConf("archive_command = 'false'"))
	s.must(s.Primary.Reload(ctx))
	s.PrimarySQL("CREATE TABLE t (a int)")
	s.PrimarySQL("INSERT INTO t VALUES (0)")
	s.PrimarySQL("SELECT pg_switch_wal()")

	s.PromoteStandby()
	// The new primary moves past the segment it shared.
	s.StandbySQL("INSERT INTO t VALUES (0)")
	s.StandbySQL("SELECT pg_switch_wal()")
	s.must(s.Standby.Stop(ctx, pgcluster.StopFast))
	s.must(s.Primary.Stop(ctx, pgcluster.StopFast))

	res := s.RewindOK("rewind keeping WAL needed for recovery", "--debug",
		"--source-pgdata", s.Standby.DataDir, "--target-pgdata", s.Primary.DataDir, "--no-sync")
	if !regexp.MustCompile(`Not removing file .* because it is required for recovery`).MatchString(res.Stderr) {
		t.Fatalf("no WAL file was kept for recovery\n%s", res)
	}
}
