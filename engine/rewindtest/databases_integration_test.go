package rewindtest

import (
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestDatabases is upstream's 002_databases: whole databases created on
// either side after the split must follow the source, in a cluster made
// with group access, whose modes the rewind must keep.
func TestDatabases(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{Local, Remote} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			testDatabases(t, mode)
		})
	}
}

func testDatabases(t *testing.T, mode Mode) {
	s := NewScenario(t, pgcluster.Options{GroupMode: true})
	s.StartPrimary()
	s.PrimarySQL("CREATE DATABASE inprimary")
	s.must(s.Primary.Exec(s.Ctx, "inprimary", "CREATE TABLE inprimary_tab (a int)"))

	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("CREATE DATABASE beforepromotion")
	s.must(s.Primary.Exec(s.Ctx, "beforepromotion", "CREATE TABLE beforepromotion_tab (a int)"))
	s.PromoteStandby()

	s.PrimarySQL("CREATE DATABASE primary_afterpromotion")
	s.must(s.Primary.Exec(s.Ctx, "primary_afterpromotion", "CREATE TABLE primary_promotion_tab (a int)"))
	s.StandbySQL("CREATE DATABASE standby_afterpromotion")
	s.must(s.Standby.Exec(s.Ctx, "standby_afterpromotion", "CREATE TABLE standby_promotion_tab (a int)"))

	s.RunRewind(mode)
	s.CheckQuery("SELECT datname FROM pg_database ORDER BY 1",
		"beforepromotion", "inprimary", "postgres", "standby_afterpromotion", "template0", "template1")

	bad, err := CheckModes(s.Primary.DataDir, 0o750, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("group-access modes lost in the rewind:\n%v", bad)
	}
}
