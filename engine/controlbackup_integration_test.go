package engine_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestControlBackupSurvivesAFailedRewind: a rewind that fails after it
// started changing the target leaves the target's own pg_control backed up
// (and pg_control itself untouched, since it is written last); once the
// cause is fixed, a rerun completes and removes the backup.
func TestControlBackupSurvivesAFailedRewind(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int)")
	s.PrimarySQL("INSERT INTO t SELECT generate_series(1, 1000)")
	s.CreateStandby(pgcluster.Options{})
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO t SELECT generate_series(1001, 5000)")
	must(t, s.Primary.Stop(ctx, pgcluster.StopFast))

	// A target-only directory the database user cannot empty: the rewind
	// must remove it (the source has none) and fails there, after the
	// copies.
	stuck := filepath.Join(s.Primary.DataDir, "tst_root_dir")
	must(t, os.Mkdir(stuck, 0o755))
	must(t, os.WriteFile(filepath.Join(stuck, "root_file"), []byte("x"), 0o644))
	control := filepath.Join(s.Primary.DataDir, "global", "pg_control")
	before, err := os.ReadFile(control)
	must(t, err)
	savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	args := []string{"--no-sync", "--source-server", s.Standby.ConnString(rewindtest.RewindRole),
		"--target-pgdata", s.Primary.DataDir, "--config-file", savedConf}

	res, err := ours.Run(ctx, args...)
	must(t, err)
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "root_file") {
		t.Fatalf("the rewind should fail removing the root-owned file\n%s", res)
	}
	backup, err := os.ReadFile(filepath.Join(s.Primary.DataDir, engine.ControlBackupPath))
	if err != nil {
		t.Fatalf("no pg_control backup after a failed rewind: %v", err)
	}
	if !bytes.Equal(backup, before) {
		t.Fatal("the backup should still be the target's own control file")
	}
	// pg_control itself is fenced until a rerun (engine/markerfence.go).
	assertControlFenced(t, s.Primary.DataDir)

	must(t, os.RemoveAll(stuck))
	run(t, s, ours, args...)
	if _, err := os.Stat(filepath.Join(s.Primary.DataDir, engine.ControlBackupPath)); !os.IsNotExist(err) {
		t.Fatalf("the backup should be gone after a finished rewind: %v", err)
	}
	copyFile(t, savedConf, s.Primary.ConfPath())
	must(t, s.Primary.FollowNew(ctx, s.Standby))
	must(t, s.Primary.Start(ctx))
	s.StandbySQL("INSERT INTO t VALUES (-1)")
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	s.CheckQuery("SELECT count(*) FROM t", "1001")
}
