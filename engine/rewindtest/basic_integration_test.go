package rewindtest

import (
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestBasic is upstream's 001_basic: a table diverges on both sides, and
// three relation files take the three interesting file-map paths: one the
// old primary extended (truncated back), one it shrank with VACUUM (tail
// copied back), one it dropped (copied whole).
func TestBasic(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{Local, Remote, Archive} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			testBasic(t, mode)
		})
	}
}

func testBasic(t *testing.T, mode Mode) {
	s := NewScenario(t, pgcluster.Options{})
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE tbl1 (d text)")
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary')")
	// Extended on the old primary after promotion: must be truncated back.
	s.PrimarySQL("CREATE TABLE trunc_tbl (d text)")
	s.PrimarySQL("INSERT INTO trunc_tbl VALUES ('in primary')")
	// Shrunk on the old primary after promotion: the tail must come back.
	s.PrimarySQL("CREATE TABLE tail_tbl (id integer, d text)")
	s.PrimarySQL("INSERT INTO tail_tbl VALUES (0, 'in primary')")
	// Dropped on the old primary after promotion: must be copied back.
	s.PrimarySQL("CREATE TABLE drop_tbl (d text)")
	s.PrimarySQL("INSERT INTO drop_tbl VALUES ('in primary')")
	s.PrimarySQL("CHECKPOINT")

	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary, before promotion')")
	s.PrimarySQL("INSERT INTO trunc_tbl VALUES ('in primary, before promotion')")
	s.PrimarySQL("INSERT INTO tail_tbl SELECT g, 'in primary, before promotion: ' || g FROM generate_series(1, 10000) g")
	s.PrimarySQL("CHECKPOINT")
	s.PromoteStandby()

	// Split brain: both sides write.
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary, after promotion')")
	s.StandbySQL("INSERT INTO tbl1 VALUES ('in standby, after promotion')")
	s.PrimarySQL("INSERT INTO trunc_tbl SELECT 'in primary, after promotion: ' || g FROM generate_series(1, 10000) g")
	// DELETE + VACUUM shrinks the file in place; TRUNCATE would make a
	// new relfilenode instead.
	s.PrimarySQL("DELETE FROM tail_tbl WHERE id > 10")
	s.PrimarySQL("VACUUM tail_tbl")
	s.PrimarySQL("INSERT INTO drop_tbl VALUES ('in primary, after promotion')")
	s.PrimarySQL("DROP TABLE drop_tbl")

	if mode == Local {
		localPreChecks(s)
	}

	s.RunRewind(mode)
	s.CheckQuery("SELECT * FROM tbl1", "in primary", "in primary, before promotion", "in standby, after promotion")
	s.CheckQuery("SELECT * FROM trunc_tbl", "in primary", "in primary, before promotion")
	s.CheckQuery("SELECT count(*) FROM tail_tbl", "10001")
	s.CheckQuery("SELECT * FROM drop_tbl", "in primary")

	bad, err := CheckModes(s.Primary.DataDir, 0o700, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("PGDATA modes after the rewind are not the defaults:\n%v", bad)
	}
}

// localPreChecks are the option combinations 001 tries in local mode before
// the real rewind: the tool must refuse a running target (with and without
// --no-ensure-shutdown) and a running local source, and a dry run must
// change nothing that would stop the real run from working.
func localPreChecks(s *Scenario) {
	s.T.Helper()
	base := []string{"--debug", "--source-pgdata", s.Standby.DataDir, "--target-pgdata", s.Primary.DataDir, "--no-sync"}

	// The automatic crash recovery cannot start while a postmaster runs.
	s.RewindFails("rewind with the target running", "", base...)
	s.RewindFails("rewind --no-ensure-shutdown with the target running",
		"target server must be shut down cleanly", append(base, "--no-ensure-shutdown")...)

	s.must(s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	s.RewindFails("rewind with the local source running",
		"source data directory must be shut down cleanly", append(base, "--no-ensure-shutdown")...)

	s.must(s.Standby.Stop(s.Ctx, pgcluster.StopFast))
	before, err := SnapshotTree(s.Primary.DataDir)
	s.must(err)
	s.RewindOK("rewind --dry-run", append(base, "--dry-run")...)
	after, err := SnapshotTree(s.Primary.DataDir)
	s.must(err)
	if diff := before.Diff(after); len(diff) > 0 {
		s.T.Fatalf("--dry-run changed the target:\n%s", strings.Join(diff, "\n"))
	}

	s.must(s.Standby.Start(s.Ctx))
	s.must(s.Primary.Start(s.Ctx))
}
