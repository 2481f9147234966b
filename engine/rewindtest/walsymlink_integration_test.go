package rewindtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestWALSymlink is upstream's 004_pg_xlog_symlink: the target's pg_wal is
// a symlink to a directory elsewhere, which the rewind must follow as a
// directory and keep as a symlink.
func TestWALSymlink(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{Local, Remote} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			testWALSymlink(t, mode)
		})
	}
}

func testWALSymlink(t *testing.T, mode Mode) {
	s := NewScenario(t, pgcluster.Options{})
	walLink := filepath.Join(s.Primary.DataDir, "pg_wal")
	walDir := filepath.Join(s.TempDir(), "primary_wal")
	s.must(os.Rename(walLink, walDir))
	s.must(os.Symlink(walDir, walLink))
	s.must(pgcluster.HandOver(walLink))

	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE tbl1 (d text)")
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary')")
	s.PrimarySQL("CHECKPOINT")
	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary, before promotion')")
	s.PrimarySQL("CHECKPOINT")
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO tbl1 VALUES ('in primary, after promotion')")
	s.StandbySQL("INSERT INTO tbl1 VALUES ('in standby, after promotion')")

	s.RunRewind(mode)
	s.CheckQuery("SELECT * FROM tbl1", "in primary", "in primary, before promotion", "in standby, after promotion")

	if target, err := os.Readlink(walLink); err != nil || target != walDir {
		t.Fatalf("pg_wal after the rewind: link to %q, %v; want a link to %s", target, err, walDir)
	}
}
