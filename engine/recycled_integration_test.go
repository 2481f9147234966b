package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine/lsn"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// recycledWALConf makes the future source keep its old WAL segments as
// recycled files: nothing holds them back (wal_keep_size 0, no slot), and
// min_wal_size leaves room for every one of them to be renamed ahead
// instead of deleted.
var recycledWALConf = []string{"wal_keep_size = 0", "min_wal_size = '512MB'", "max_wal_size = '1GB'"}

// TestRecycledWALRewind rewinds, with the default (trimming), from a new
// primary whose pg_wal holds recycled segments named past its current WAL
// position, once from the running server and once from its stopped data
// directory. The report must show them as wal_recycled and none of them
// may reach the target; the rewound node must start as a standby, stream
// the WAL the source writes afterwards (which lands in those recycled
// segments on the source) and end with the source's data.
func TestRecycledWALRewind(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	for _, live := range []bool{true, false} {
		name := "stopped source"
		if live {
			name = "live source"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testRecycledWALRewind(t, ours, live)
		})
	}
}

func testRecycledWALRewind(t *testing.T, ours rewindtest.Rewinder, live bool) {
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE logged (id int primary key, d text)")
	s.PrimarySQL("INSERT INTO logged SELECT g, 'common ' || g FROM generate_series(1, 5000) g")
	s.CreateStandby(pgcluster.Options{ExtraConf: recycledWALConf})
	// Old segments on the standby, which a restartpoint recycles to
	// names past its position (on timeline 1), and the promotion's
	// checkpoint more of them (on timeline 2).
	for i := 0; i < 8; i++ {
		s.PrimarySQL(fmt.Sprintf("INSERT INTO logged VALUES (%d, 'segment')", 100000+i))
		s.PrimarySQL("SELECT pg_switch_wal()")
	}
	s.PrimarySQL("CHECKPOINT")
	must(t, s.Primary.WaitForCatchup(ctx, s.Standby))
	s.StandbySQL("CHECKPOINT")
	s.PromoteStandby()

	s.PrimarySQL("UPDATE logged SET d = 'lost on the old primary' WHERE id % 10 = 0")
	s.StandbySQL("UPDATE logged SET d = 'new primary' WHERE id % 7 = 0")
	s.StandbySQL("CHECKPOINT")

	ahead := segmentsAhead(t, s.Standby)
	if len(ahead) == 0 {
		t.Fatalf("setup made no recycled WAL segment on the source: %v", walSegments(t, s.Standby.DataDir))
	}
	t.Logf("source holds %d WAL segment files past its position", len(ahead))

	must(t, s.Primary.Stop(ctx, pgcluster.StopImmediate))
	savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	report := filepath.Join(s.TempDir(), "report.json")
	args := []string{"--debug", "--no-sync", "--target-pgdata", s.Primary.DataDir, "--config-file", savedConf, "--report", report}
	if live {
		args = append(args, "-R", "--source-server", s.Standby.ConnString(rewindtest.RewindRole))
	} else {
		must(t, s.Standby.Stop(ctx, pgcluster.StopFast))
		args = append(args, "--source-pgdata", s.Standby.DataDir)
	}
	res := run(t, s, ours, args...)

	rep := readTrimReport(t, report)
	t.Logf("skipped bytes %+v, files %+v; fetched %d bytes", rep.BytesSkipped, rep.FilesSkipped, rep.BytesFetched)
	if rep.BytesSkipped.WALRecycled < 16<<20 || rep.FilesSkipped.WALRecycled < 1 ||
		rep.BytesSkipped.WALRecycled != rep.FilesSkipped.WALRecycled*16<<20 {
		t.Fatalf("report skips no whole recycled segment: bytes %+v files %+v\n%s\n%s", rep.BytesSkipped, rep.FilesSkipped,
			linesWith(res.Stderr, "WAL position"), res)
	}
	// The position the engine read names the last segment it fetched;
	// every segment it left out lies past it, and none is in the target.
	m := regexp.MustCompile(`source WAL position ([0-9A-F]+)/([0-9A-F]+): WAL segments after ([0-9A-F]{24}) are not fetched`).
		FindStringSubmatch(res.Stderr)
	if m == nil {
		t.Fatalf("--debug does not say the source's WAL position\n%s", res)
	}
	hi, _ := strconv.ParseUint(m[1], 16, 32)
	lo, _ := strconv.ParseUint(m[2], 16, 32)
	posSeg := lsn.LSN(hi<<32 | lo).Segment(16 << 20)
	skipped := regexp.MustCompile(`not fetching "pg_wal/([0-9A-F]{24})" \(wal_recycled\)`).FindAllStringSubmatch(res.Stderr, -1)
	if int64(len(skipped)) != rep.FilesSkipped.WALRecycled {
		t.Fatalf("--debug names %d recycled segments, the report %d\n%s", len(skipped), rep.FilesSkipped.WALRecycled, res)
	}
	for _, sk := range skipped {
		_, segno, err := lsn.ParseSegmentName(sk[1], 16<<20)
		must(t, err)
		if segno <= posSeg {
			t.Errorf("segment %s skipped, but the position %s/%s lies in or after it", sk[1], m[1], m[2])
		}
		if _, err := os.Stat(filepath.Join(s.Primary.DataDir, "pg_wal", sk[1])); err == nil {
			t.Errorf("skipped segment %s is in the target's pg_wal", sk[1])
		}
	}

	// The rewound node follows the source and ends with its data, also
	// after the source wrote into the segments the rewind left out.
	copyFile(t, savedConf, s.Primary.ConfPath())
	if live {
		s.StandbySQL("ALTER ROLE " + rewindtest.RewindRole + " WITH REPLICATION")
	} else {
		must(t, s.Standby.Start(ctx))
		must(t, s.Primary.FollowNew(ctx, s.Standby))
	}
	must(t, s.Primary.Start(ctx))
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	rewindtest.CheckQuery(t, ctx, s.Primary, "SELECT pg_is_in_recovery()", "t")
	for i := 0; i < 3; i++ {
		s.StandbySQL(fmt.Sprintf("INSERT INTO logged SELECT g, 'after the rewind' FROM generate_series(%d, %d) g", 200000+1000*i, 200999+1000*i))
		s.StandbySQL("SELECT pg_switch_wal()")
	}
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	for _, q := range []string{
		"SELECT count(*), sum(hashtext(d)) FROM logged",
		"SELECT count(*) FROM logged WHERE d = 'lost on the old primary'",
		"SELECT count(*) FROM logged WHERE d = 'after the rewind'",
	} {
		rewindtest.CheckQuery(t, ctx, s.Primary, q, strings.Join(mustRow(t, s, q), "|"))
	}
}

// linesWith picks the lines of s that contain sub.
func linesWith(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// mustRow is the first row of a query on the new primary.
func mustRow(t *testing.T, s *rewindtest.Scenario, q string) []string {
	t.Helper()
	rows, err := s.Standby.Query(s.Ctx, "postgres", q)
	must(t, err)
	return rows[0]
}

// segmentsAhead lists the WAL segment files of a running cluster named
// past the segment holding its current insert position.
func segmentsAhead(t *testing.T, c *pgcluster.Cluster) []string {
	t.Helper()
	cur, err := c.QueryValue(t.Context(), "postgres", "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
	must(t, err)
	_, curSeg, err := lsn.ParseSegmentName(cur, 16<<20)
	must(t, err)
	var ahead []string
	for _, name := range walSegments(t, c.DataDir) {
		if _, segno, err := lsn.ParseSegmentName(name, 16<<20); err == nil && segno > curSeg {
			ahead = append(ahead, name)
		}
	}
	return ahead
}

// walSegments lists the segment-named files of a data directory's pg_wal.
func walSegments(t *testing.T, dataDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "pg_wal"))
	must(t, err)
	var names []string
	for _, e := range entries {
		if _, _, err := lsn.ParseSegmentName(e.Name(), 16<<20); err == nil {
			names = append(names, e.Name())
		}
	}
	return names
}
