package rewindtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// Rewind runs the binary under test with args.
func (s *Scenario) Rewind(args ...string) Result {
	s.T.Helper()
	res, err := s.Rewinder.Run(s.Ctx, args...)
	if err != nil {
		s.T.Fatal(err)
	}
	return res
}

// RewindOK runs the binary and fails the test unless it exits 0.
func (s *Scenario) RewindOK(what string, args ...string) Result {
	s.T.Helper()
	res := s.Rewind(args...)
	if res.ExitCode != 0 {
		s.T.Fatalf("%s: want exit 0\n%s", what, res)
	}
	return res
}

// RewindFails runs the binary and fails the test if it exits 0 or, when
// wantStderr is not empty, if its stderr does not contain wantStderr.
func (s *Scenario) RewindFails(what, wantStderr string, args ...string) Result {
	s.T.Helper()
	res := s.Rewind(args...)
	if res.ExitCode == 0 {
		s.T.Fatalf("%s: want a failure\n%s", what, res)
	}
	if !strings.Contains(res.Stderr, wantStderr) {
		s.T.Fatalf("%s: stderr lacks %q\n%s", what, wantStderr, res)
	}
	return res
}

// RunRewind is upstream's run_pg_rewind: stop the old primary, keep its
// postgresql.conf aside (the rewind copies the source's), rewind in mode,
// put the configuration back, make the old primary a standby of the new
// one, and start it. It returns the rewind's result.
func (s *Scenario) RunRewind(mode Mode) Result {
	s.T.Helper()
	if mode == Archive {
		// Archive mode empties pg_wal, which leaves crash recovery
		// nothing to replay: the target must be clean already.
		s.must(s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	} else {
		s.must(s.Primary.Stop(s.Ctx, pgcluster.StopImmediate))
	}
	saved := filepath.Join(s.TempDir(), "primary-postgresql.conf")
	s.must(copyFile(s.Primary.ConfPath(), saved))
	s.must(pgcluster.HandOver(saved))

	var res Result
	switch mode {
	case Local:
		s.must(s.Standby.Stop(s.Ctx, pgcluster.StopFast))
		res = s.RewindOK("rewind local", "--debug",
			"--source-pgdata="+s.Standby.DataDir, "--target-pgdata="+s.Primary.DataDir,
			"--no-sync", "--config-file", saved)
	case Remote:
		res = s.RewindOK("rewind remote", "--debug",
			"--source-server", s.Standby.ConnString(RewindRole), "--target-pgdata="+s.Primary.DataDir,
			"--no-sync", "--write-recovery-conf", "--config-file", saved)
		if !s.Primary.IsStandby() {
			s.T.Fatalf("rewind remote with --write-recovery-conf left no standby.signal in %s", s.Primary.DataDir)
		}
		// Streaming from the new primary needs REPLICATION, which the
		// rewind itself did not.
		s.StandbySQL("ALTER ROLE " + RewindRole + " WITH REPLICATION")
	case Archive:
		s.moveWALToArchive()
		s.must(s.Primary.AppendConf("restore_command = " + pgcluster.QuoteConf(fmt.Sprintf(`cp "%s/%%f" "%%p"`, s.ArchiveDir))))
		s.must(s.Standby.Stop(s.Ctx, pgcluster.StopFast))
		res = s.RewindOK("rewind archive", "--debug",
			"--source-pgdata="+s.Standby.DataDir, "--target-pgdata="+s.Primary.DataDir,
			"--no-sync", "--no-ensure-shutdown", "--restore-target-wal",
			"--config-file", s.Primary.ConfPath())
	default:
		s.T.Fatalf("unknown rewind mode %q", mode)
	}
	s.restoreConf(saved)
	if mode != Remote {
		s.must(s.Primary.FollowNew(s.Ctx, s.Standby))
	}
	s.must(s.Primary.Start(s.Ctx))
	if mode == Remote {
		// The configuration -R wrote must actually work: the rewound
		// node streams from the new primary (its walreceiver reports
		// its cluster_name, which the restored configuration kept).
		s.must(s.Standby.WaitForCatchup(s.Ctx, s.Primary))
	}
	return res
}

// restoreConf puts the old primary's own postgresql.conf back with the mode
// initdb gave it.
func (s *Scenario) restoreConf(saved string) {
	s.T.Helper()
	perm := os.FileMode(0o600)
	if groupAccess(s.Primary.DataDir) {
		perm = 0o640
	}
	s.must(copyFile(saved, s.Primary.ConfPath()))
	s.must(os.Chmod(s.Primary.ConfPath(), perm))
	s.must(pgcluster.HandOver(s.Primary.ConfPath()))
}

// moveWALToArchive moves everything in the old primary's pg_wal into the
// archive directory and leaves pg_wal empty (archive mode).
func (s *Scenario) moveWALToArchive() {
	s.T.Helper()
	walDir := filepath.Join(s.Primary.DataDir, "pg_wal")
	s.must(os.RemoveAll(s.ArchiveDir))
	s.must(os.Rename(walDir, s.ArchiveDir))
	s.must(os.Mkdir(walDir, 0o700))
	s.must(os.Chmod(s.ArchiveDir, 0o700))
	s.must(pgcluster.HandOver(walDir))
	s.must(pgcluster.HandOver(s.ArchiveDir))
}
