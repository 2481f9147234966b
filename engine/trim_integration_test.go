package engine_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestTrimmedRewind rewinds with the default (trimming) from a running new
// primary that has an unlogged table with data, a temporary table held
// open by a session during the rewind, and several WAL segments older than
// the last common checkpoint. The report must show bytes skipped for all
// three reasons and none of the temporary files may reach the target. The
// rewound node must then come up as a standby of the source with the
// source's logged data, and after promotion its unlogged table must be
// empty and usable, as PostgreSQL leaves an unlogged table after recovery.
func TestTrimmedRewind(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE logged (id int primary key, d text)")
	s.PrimarySQL("INSERT INTO logged SELECT g, 'common ' || g FROM generate_series(1, 5000) g")
	s.PrimarySQL("CREATE UNLOGGED TABLE scratch (id int primary key, d text)")
	s.PrimarySQL("INSERT INTO scratch SELECT g, repeat('o', 100) FROM generate_series(1, 5000) g")
	s.CreateStandby(pgcluster.Options{})
	// Whole WAL segments before the last common checkpoint, on both
	// nodes: recovery of the rewound node never reads them.
	for i := 0; i < 3; i++ {
		s.PrimarySQL(fmt.Sprintf("INSERT INTO logged SELECT g, 'segment %d' FROM generate_series(%d, %d) g", i, 10000*(i+1), 10000*(i+1)+999))
		s.PrimarySQL("SELECT pg_switch_wal()")
	}
	s.PrimarySQL("CHECKPOINT")
	s.PromoteStandby()

	// Split brain. Both unlogged tables grow, so pg_rewind would fetch
	// the source's.
	s.PrimarySQL("UPDATE logged SET d = 'lost on the old primary' WHERE id % 10 = 0")
	s.PrimarySQL("INSERT INTO scratch SELECT g, repeat('p', 100) FROM generate_series(5001, 8000) g")
	s.StandbySQL("UPDATE logged SET d = 'new primary' WHERE id % 7 = 0")
	s.StandbySQL("INSERT INTO scratch SELECT g, repeat('s', 100) FROM generate_series(5001, 40000) g")
	s.StandbySQL("CHECKPOINT")

	// A session on the source holds a temporary table through the rewind.
	session, err := pgconn.Connect(ctx, fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable",
		s.Standby.SocketDir, s.Standby.Port, pgcluster.Superuser))
	must(t, err)
	defer session.Close(ctx)
	_, err = session.Exec(ctx, "CREATE TEMP TABLE held AS SELECT g AS id, repeat('t', 100) AS d FROM generate_series(1, 20000) g").ReadAll()
	must(t, err)

	must(t, s.Primary.Stop(ctx, pgcluster.StopImmediate))
	savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	report := filepath.Join(s.TempDir(), "report.json")
	res := run(t, s, ours, "-P", "--debug", "-R", "--no-sync",
		"--source-server", s.Standby.ConnString(rewindtest.RewindRole), "--target-pgdata", s.Primary.DataDir,
		"--config-file", savedConf, "--report", report)
	session.Close(ctx)
	// Streaming from the new primary needs REPLICATION, which the rewind
	// itself did not.
	s.StandbySQL("ALTER ROLE " + rewindtest.RewindRole + " WITH REPLICATION")

	rep := readTrimReport(t, report)
	b, _ := json.Marshal(rep)
	t.Logf("skipped bytes %+v, files %+v; fetched %d bytes", rep.BytesSkipped, rep.FilesSkipped, rep.BytesFetched)
	if rep.BytesSkipped.WALBeforeRedo < 16<<20 || rep.BytesSkipped.Unlogged <= 0 || rep.BytesSkipped.Temp <= 0 {
		t.Fatalf("report skips too little:\n%s\n%s", b, res)
	}
	if rep.FilesSkipped.WALBeforeRedo < 1 || rep.FilesSkipped.Unlogged < 1 || rep.FilesSkipped.Temp < 1 {
		t.Fatalf("report counts too few skipped files:\n%s", b)
	}
	line := regexp.MustCompile(`pg_rewind: skipped (\d+) files, \d+ MB recovery never reads\n`).FindStringSubmatch(res.Stderr)
	if line == nil || line[1] != fmt.Sprint(rep.FilesSkipped.WALBeforeRedo+rep.FilesSkipped.Unlogged+rep.FilesSkipped.Temp+rep.FilesSkipped.WALRecycled) {
		t.Fatalf("no skip line matching the report %s\n%s", b, res)
	}
	for _, reason := range []string{"wal_before_redo", "unlogged", "temp"} {
		if !strings.Contains(res.Stderr, "("+reason+"): recovery never reads it\n") {
			t.Fatalf("--debug names no file skipped as %s\n%s", reason, res)
		}
	}
	// No temporary relation file of the source's session was written.
	temp := regexp.MustCompile(`^t\d+_\d+`)
	must(t, filepath.Walk(filepath.Join(s.Primary.DataDir, "base"), func(p string, info os.FileInfo, err error) error {
		if err == nil && temp.MatchString(info.Name()) {
			t.Errorf("temporary relation file %s reached the target", p)
		}
		return err
	}))

	// The rewound node follows the source and has its logged data.
	copyFile(t, savedConf, s.Primary.ConfPath())
	must(t, s.Primary.Start(ctx))
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	rewindtest.CheckQuery(t, ctx, s.Primary, "SELECT pg_is_in_recovery()", "t")
	for _, q := range []string{
		"SELECT count(*), sum(hashtext(d)) FROM logged",
		"SELECT count(*) FROM logged WHERE d = 'lost on the old primary'",
	} {
		rows, err := s.Standby.Query(ctx, "postgres", q)
		must(t, err)
		rewindtest.CheckQuery(t, ctx, s.Primary, q, strings.Join(rows[0], "|"))
	}
	if _, err := s.Primary.Query(ctx, "postgres", "SELECT count(*) FROM scratch"); err == nil ||
		!strings.Contains(err.Error(), "cannot access temporary or unlogged relations during recovery") {
		t.Fatalf("reading the unlogged table on the standby: %v", err)
	}
	// Promoted, the node has the unlogged table PostgreSQL rebuilds from
	// its init fork: empty, and usable.
	must(t, s.Primary.Promote(ctx))
	rewindtest.CheckQuery(t, ctx, s.Primary, "SELECT count(*) FROM scratch", "0")
	must(t, s.Primary.Exec(ctx, "postgres", "INSERT INTO scratch VALUES (1, 'after promotion')"))
	rewindtest.CheckQuery(t, ctx, s.Primary, "SELECT id, d FROM scratch", "1|after promotion")
	rewindtest.CheckQuery(t, ctx, s.Primary, "SELECT count(*) FROM logged WHERE d = 'new primary'",
		mustValue(t, s, "SELECT count(*) FROM logged WHERE d = 'new primary'"))
}

// readTrimReport reads a rewind's --report file.
func readTrimReport(t *testing.T, path string) engine.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	var rep engine.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report %s: %v\n%s", path, err, b)
	}
	return rep
}

// mustValue is one value of a query on the new primary.
func mustValue(t *testing.T, s *rewindtest.Scenario, q string) string {
	t.Helper()
	v, err := s.Standby.QueryValue(s.Ctx, "postgres", q)
	must(t, err)
	return v
}
