package rewindtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestTablespace goes beyond upstream's 15 suite: relations in a tablespace
// with an absolute location, which each node keeps at its own path (the
// base backup relocates it). The rewind must reach the target's files
// through the target's own pg_tblspc symlink, leave that symlink pointing
// where it did, copy a source-only table into it and drop a target-only one.
func TestTablespace(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{Local, Remote} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			testTablespace(t, mode)
		})
	}
}

func testTablespace(t *testing.T, mode Mode) {
	s := NewScenario(t, pgcluster.Options{})
	location := filepath.Join(s.TempDir(), "ts_primary")
	s.must(os.Mkdir(location, 0o700))
	s.must(pgcluster.HandOver(location))
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLESPACE ts LOCATION '" + location + "'")
	s.PrimarySQL("CREATE TABLE ts_tbl (d text) TABLESPACE ts")
	s.PrimarySQL("INSERT INTO ts_tbl VALUES ('in primary')")
	s.PrimarySQL("CHECKPOINT")
	oid, err := s.Primary.QueryValue(s.Ctx, "postgres", "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")
	s.must(err)
	link := filepath.Join(s.Primary.DataDir, "pg_tblspc", oid)

	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("INSERT INTO ts_tbl VALUES ('in primary, before promotion')")
	s.PromoteStandby()

	s.PrimarySQL("INSERT INTO ts_tbl SELECT 'in primary, after promotion ' || g FROM generate_series(1, 2000) g")
	s.PrimarySQL("CREATE TABLE ts_primary_only (d text) TABLESPACE ts")
	s.PrimarySQL("INSERT INTO ts_primary_only VALUES ('gone after the rewind')")
	primaryOnly, err := s.Primary.QueryValue(s.Ctx, "postgres", "SELECT pg_relation_filepath('ts_primary_only')")
	s.must(err)
	s.StandbySQL("INSERT INTO ts_tbl VALUES ('in standby, after promotion')")
	s.StandbySQL("CREATE TABLE ts_standby_only (d text) TABLESPACE ts")
	s.StandbySQL("INSERT INTO ts_standby_only VALUES ('copied by the rewind')")
	s.StandbySQL("CHECKPOINT")

	s.RunRewind(mode)
	s.CheckQuery("SELECT * FROM ts_tbl", "in primary", "in primary, before promotion", "in standby, after promotion")
	s.CheckQuery("SELECT * FROM ts_standby_only", "copied by the rewind")
	s.CheckQuery("SELECT count(*) FROM pg_class WHERE relname = 'ts_primary_only'", "0")
	s.CheckQuery("SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'ts'", location)

	if got, err := os.Readlink(link); err != nil || got != location {
		t.Fatalf("pg_tblspc/%s after the rewind: link to %q, %v; want the target's own %s", oid, got, err, location)
	}
	if _, err := os.Stat(filepath.Join(s.Primary.DataDir, primaryOnly)); !os.IsNotExist(err) {
		t.Fatalf("file %s of the target-only table survived the rewind (stat: %v)", primaryOnly, err)
	}
}
