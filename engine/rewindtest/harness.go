package rewindtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// Mode is how a scenario runs the rewind, as upstream's run_pg_rewind does.
type Mode string

// The three modes of upstream's harness.
const (
	// Local rewinds from the stopped new primary's data directory
	// (--source-pgdata), after an immediate stop of the old primary, so
	// the tool must run crash recovery on the target first.
	Local Mode = "local"
	// Remote rewinds from the running new primary (--source-server, as
	// the minimally privileged rewind_user) with -R.
	Remote Mode = "remote"
	// Archive stops the old primary cleanly, moves all its WAL to an
	// archive directory, and rewinds locally with --restore-target-wal and
	// --no-ensure-shutdown, so the tool must fetch WAL via restore_command.
	Archive Mode = "archive"
)

// RewindRole is the source role of remote mode: LOGIN and the four EXECUTE
// grants pg_rewind needs, nothing more.
const RewindRole = "rewind_user"

// scenarioTimeout bounds one scenario; a healthy one takes seconds.
const scenarioTimeout = 4 * time.Minute

// Scenario is upstream RewindTest.pm's shape: an old primary that is rewound
// (the target) and its standby, promoted to be the new primary (the source).
type Scenario struct {
	// T is the test the scenario belongs to.
	T *testing.T
	// Ctx bounds every blocking call of the scenario.
	Ctx context.Context
	// Rewinder is the binary under test.
	Rewinder Rewinder
	// Primary is the old primary: the rewind's target.
	Primary *pgcluster.Cluster
	// Standby is the standby, promoted by PromoteStandby: the source.
	Standby *pgcluster.Cluster
	// ArchiveDir is the old primary's WAL archive in Archive mode.
	ArchiveDir string
}

// requireRoot skips a test that cannot run servers as postgres.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("rewind scenarios run PostgreSQL and pg_rewind as the postgres user and need root")
	}
}

// testContext returns a context that ends with the test or after
// scenarioTimeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), scenarioTimeout)
	t.Cleanup(cancel)
	return ctx
}

// NewScenario initialises the primary (setup_cluster): streaming allowed,
// wal_keep_size 320MB, plus opts (GroupMode, ExtraConf, ArchiveDir...). The
// server is not started yet, so a test can still rearrange its files.
func NewScenario(t *testing.T, opts pgcluster.Options) *Scenario {
	t.Helper()
	requireRoot(t)
	s := &Scenario{T: t, Ctx: testContext(t), Rewinder: RewinderFromEnv()}
	opts.AllowStreaming = true
	if opts.Name == "" {
		opts.Name = "primary"
	}
	s.Primary = NewCluster(t, s.Ctx, opts)
	s.ArchiveDir = s.TempDir()
	return s
}

// NewCluster initialises a cluster in a fresh temporary directory and
// destroys it when the test ends.
func NewCluster(t *testing.T, ctx context.Context, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := pgcluster.Init(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	destroyWithTest(t, c)
	return c
}

// NewStandby makes a streaming standby of primary from a base backup,
// destroyed when the test ends; it is not started.
func NewStandby(t *testing.T, ctx context.Context, primary *pgcluster.Cluster, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := pgcluster.BaseBackup(ctx, primary, opts)
	if err != nil {
		t.Fatal(err)
	}
	destroyWithTest(t, c)
	return c
}

func destroyWithTest(t *testing.T, c *pgcluster.Cluster) {
	t.Cleanup(func() {
		if err := c.Destroy(context.Background()); err != nil {
			t.Errorf("destroy %s: %v", c.Name, err)
		}
	})
}

// TempDir is a temporary directory owned by postgres.
func (s *Scenario) TempDir() string {
	s.T.Helper()
	d := s.T.TempDir()
	if err := pgcluster.HandOver(d); err != nil {
		s.T.Fatal(err)
	}
	return d
}

// StartPrimary starts the primary and creates the rewind role
// (start_primary).
func (s *Scenario) StartPrimary() {
	s.T.Helper()
	s.must(s.Primary.Start(s.Ctx))
	s.must(s.Primary.CreateRewindRole(s.Ctx, RewindRole))
}

// CreateStandby makes and starts a streaming standby of the primary
// (create_standby).
func (s *Scenario) CreateStandby(opts pgcluster.Options) {
	s.T.Helper()
	if opts.Name == "" {
		opts.Name = "standby"
	}
	s.Standby = NewStandby(s.T, s.Ctx, s.Primary, opts)
	s.must(s.Standby.Start(s.Ctx))
}

// PromoteStandby waits until the standby has everything the primary wrote,
// promotes it, and checkpoints it: PostgreSQL 15's pg_rewind reads the
// source's timeline from its control file, which a promotion updates only
// at the next checkpoint (promote_standby).
func (s *Scenario) PromoteStandby() {
	s.T.Helper()
	s.must(s.Primary.WaitForCatchup(s.Ctx, s.Standby))
	s.must(s.Standby.Promote(s.Ctx))
	s.must(s.Standby.Checkpoint(s.Ctx))
}

// PrimarySQL runs sql on the primary's postgres database.
func (s *Scenario) PrimarySQL(sql string) {
	s.T.Helper()
	s.must(s.Primary.Exec(s.Ctx, "postgres", sql))
}

// StandbySQL runs sql on the standby's postgres database.
func (s *Scenario) StandbySQL(sql string) {
	s.T.Helper()
	s.must(s.Standby.Exec(s.Ctx, "postgres", sql))
}

// CheckQuery runs sql on the (rewound) primary and compares the rows,
// printed as psql -At prints them (one line per row, columns joined by |),
// with want exactly (check_query).
func (s *Scenario) CheckQuery(sql string, want ...string) {
	s.T.Helper()
	CheckQuery(s.T, s.Ctx, s.Primary, sql, want...)
}

// CheckQuery runs sql on c and compares its rows, printed as psql -At
// prints them, with want exactly.
func CheckQuery(t *testing.T, ctx context.Context, c *pgcluster.Cluster, sql string, want ...string) {
	t.Helper()
	rows, err := c.Query(ctx, "postgres", sql)
	if err != nil {
		t.Fatalf("check query %q on %s: %v", sql, c.Name, err)
	}
	got := make([]string, len(rows))
	for i, r := range rows {
		got[i] = strings.Join(r, "|")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
		t.Fatalf("query %q on %s:\ngot:\n%s\nwant:\n%s", sql, c.Name, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

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

// must fails the test on err.
func (s *Scenario) must(err error) {
	s.T.Helper()
	if err != nil {
		s.T.Fatal(err)
	}
}

// groupAccess reports whether a data directory was made with group access.
func groupAccess(dataDir string) bool {
	st, err := os.Stat(dataDir)
	return err == nil && st.Mode().Perm()&0o070 != 0
}

// copyFile copies a regular file, replacing dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	return nil
}

// CheckModes walks a data directory and reports every directory whose mode
// is not dirMode and every regular file whose mode is not fileMode
// (upstream's check_mode_recursive). Symlinks are not followed.
func CheckModes(dataDir string, dirMode, fileMode os.FileMode) ([]string, error) {
	var bad []string
	err := filepath.Walk(dataDir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case info.IsDir() && info.Mode().Perm() != dirMode:
			bad = append(bad, fmt.Sprintf("%s: %v, want %v", p, info.Mode().Perm(), dirMode))
		case info.Mode().IsRegular() && info.Mode().Perm() != fileMode:
			bad = append(bad, fmt.Sprintf("%s: %v, want %v", p, info.Mode().Perm(), fileMode))
		}
		return nil
	})
	return bad, err
}
