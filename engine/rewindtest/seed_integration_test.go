package rewindtest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestSeedFailure reproduces the seed (shared/seed/README.md): after a split
// brain the old primary kept writing long enough that the WAL from the last
// common checkpoint onward left its pg_wal and exists only in the archive.
// A rewind then cannot walk back to the common checkpoint ("could not find
// previous WAL record", naming the missing segment). With -c the tool
// fetches those segments through the target's restore_command; staging
// them back into pg_wal first (the seed's own fix) works too. Either way
// the old primary rejoins as a standby, its split-brain writes gone.
func TestSeedFailure(t *testing.T) {
	t.Parallel()
	for _, fix := range []string{"restore-target-wal", "staged-archive"} {
		t.Run(fix, func(t *testing.T) {
			t.Parallel()
			testSeedFailure(t, fix)
		})
	}
}

func testSeedFailure(t *testing.T, fix string) {
	archive := filepath.Join(t.TempDir(), "pg_arch")
	s := NewScenario(t, pgcluster.Options{
		ArchiveDir: archive,
		// Nothing pins old segments: checkpoints recycle them as soon
		// as they are archived, as on the seed's busy primary.
		ExtraConf: []string{"wal_keep_size = 0", "min_wal_size = 32MB", "max_wal_size = 64MB"},
	})
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t1 (id int, d text)")
	s.PrimarySQL("INSERT INTO t1 SELECT g, 'before the split ' || g FROM generate_series(1, 1000) g")
	s.CreateStandby(pgcluster.Options{ArchiveDir: s.TempDir()})
	s.PrimarySQL("CHECKPOINT") // the last common checkpoint
	s.PrimarySQL("SELECT pg_switch_wal()")
	s.PrimarySQL("INSERT INTO t1 VALUES (1001, 'replicated before the promotion')")
	s.PromoteStandby()

	// Split brain: the old primary keeps writing, across several
	// segments and checkpoints, and creates objects the rewind must undo.
	s.PrimarySQL("CREATE TABLE t2 AS SELECT g AS id FROM generate_series(1, 1000) g")
	s.PrimarySQL("CREATE VIEW v2 AS SELECT * FROM t2")
	s.PrimarySQL("CREATE FUNCTION ft() RETURNS int LANGUAGE sql AS 'SELECT 1'")
	t2Path, err := s.Primary.QueryValue(s.Ctx, "postgres", "SELECT pg_relation_filepath('t2')")
	s.must(err)
	for i := 0; i < 3; i++ {
		s.PrimarySQL("INSERT INTO t1 SELECT g, 'old primary after the split' FROM generate_series(2000, 12000) g")
		s.PrimarySQL("SELECT pg_switch_wal()")
		s.PrimarySQL("CHECKPOINT")
	}
	s.StandbySQL("INSERT INTO t1 VALUES (1002, 'new primary after the split')")
	redoSegment, err := s.Primary.QueryValue(s.Ctx, "postgres", "SELECT pg_walfile_name(redo_lsn) FROM pg_control_checkpoint()")
	s.must(err)
	s.must(s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	s.StandbySQL("CHECKPOINT")

	walDir := filepath.Join(s.Primary.DataDir, "pg_wal")
	recycleOldSegments(t, walDir, archive, redoSegment)
	divergence := divergencePoint(t, s.Standby)
	missing := firstMissingSegment(t, walDir, divergence)
	t.Logf("divergence at %s; first missing segment %s; pg_wal keeps from %s", divergence, missing, redoSegment)

	// The seed's first attempt: a dry run with progress and debug output.
	res := s.RewindFails("rewind with the WAL recycled away", "could not find previous WAL record at "+divergence.String(),
		"--target-pgdata="+s.Primary.DataDir, "--source-server="+s.Standby.ConnString(RewindRole), "-P", "--debug", "-n")
	if want := "pg_wal/" + missing; !strings.Contains(res.Output(), "could not open file") || !strings.Contains(res.Output(), want) {
		t.Fatalf("the failure does not name the missing segment %s\n%s", want, res)
	}
	if want := "servers diverged at WAL location " + divergence.String() + " on timeline 1"; !strings.Contains(res.Output(), want) {
		t.Fatalf("output lacks %q\n%s", want, res)
	}
	t.Logf("as in the seed:\n%s", tail(res.Stderr, 3))

	args := []string{"--target-pgdata=" + s.Primary.DataDir, "--source-server=" + s.Standby.ConnString(RewindRole),
		"-R", "--no-sync"}
	switch fix {
	case "restore-target-wal":
		// The fix 13+ offers: -c runs the target's restore_command.
		s.must(s.Primary.AppendConf("restore_command = " + pgcluster.QuoteConf(`cp "`+archive+`/%f" "%p"`)))
		args = append(args, "-c")
	case "staged-archive":
		// The seed's fix: put the archived segments back into pg_wal.
		stageArchive(t, archive, walDir)
	}
	saved := filepath.Join(s.TempDir(), "primary-postgresql.conf")
	s.must(copyFile(s.Primary.ConfPath(), saved))
	s.must(pgcluster.HandOver(saved))
	s.RewindOK("rewind after "+fix, append(args, "--config-file", saved)...)
	s.restoreConf(saved)
	s.StandbySQL("ALTER ROLE " + RewindRole + " WITH REPLICATION")
	s.must(s.Primary.Start(s.Ctx))
	s.must(s.Standby.WaitForCatchup(s.Ctx, s.Primary))

	// The seed's verification: the rewound node has exactly the new
	// primary's objects and rows; the split-brain ones are gone.
	s.CheckQuery("SELECT pg_is_in_recovery()", "t")
	s.CheckQuery("SELECT count(*), max(id) FROM t1", "1002|1002")
	s.CheckQuery("SELECT relname FROM pg_class WHERE relname IN ('t1', 't2', 'v2') ORDER BY 1", "t1")
	s.CheckQuery("SELECT count(*) FROM pg_proc WHERE proname = 'ft'", "0")
	want, err := s.Standby.QueryValue(s.Ctx, "postgres", "SELECT sum(hashtext(t1::text)) FROM t1")
	s.must(err)
	s.CheckQuery("SELECT sum(hashtext(t1::text)) FROM t1", want)
	if _, err := os.Stat(filepath.Join(s.Primary.DataDir, t2Path)); !os.IsNotExist(err) {
		t.Fatalf("relation file %s of the split-brain table survived the rewind (stat: %v)", t2Path, err)
	}
}

// segmentName matches WAL segment file names (timeline, log, segment).
var segmentName = regexp.MustCompile(`^[0-9A-F]{24}$`)

// recycleOldSegments plays the part of checkpoints on a busy primary: every
// segment older than keepFrom leaves pg_wal, and the archive keeps the only
// copy. Checkpoints with wal_keep_size = 0 have usually removed them
// already; this makes it certain.
func recycleOldSegments(t *testing.T, walDir, archive, keepFrom string) {
	t.Helper()
	entries, err := os.ReadDir(walDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !segmentName.MatchString(name) || name[8:] >= keepFrom[8:] {
			continue
		}
		src := filepath.Join(walDir, name)
		if _, err := os.Stat(filepath.Join(archive, name)); err == nil {
			err = os.Remove(src)
		} else {
			err = os.Rename(src, filepath.Join(archive, name))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// stageArchive copies every archived segment that pg_wal lacks back into
// it, owned by postgres, as the seed's author did with cp.
func stageArchive(t *testing.T, archive, walDir string) {
	t.Helper()
	entries, err := os.ReadDir(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		dst := filepath.Join(walDir, e.Name())
		if !segmentName.MatchString(e.Name()) {
			continue
		}
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := copyFile(filepath.Join(archive, e.Name()), dst); err != nil {
			t.Fatal(err)
		}
		if err := pgcluster.HandOver(dst); err != nil {
			t.Fatal(err)
		}
	}
}

// divergencePoint reads where timeline 2 forked from timeline 1 from the
// new primary's history file.
func divergencePoint(t *testing.T, newPrimary *pgcluster.Cluster) pgcluster.LSN {
	t.Helper()
	f, err := os.Open(filepath.Join(newPrimary.DataDir, "pg_wal", "00000002.history"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "1" {
			lsn, err := pgcluster.ParseLSN(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			return lsn
		}
	}
	t.Fatalf("no switchpoint from timeline 1 in %s (scan: %v)", f.Name(), sc.Err())
	return 0
}

// walSegmentSize is the default 16 MiB segment size of our clusters.
const walSegmentSize = 16 << 20

// firstMissingSegment is the segment of timeline 1 a backward walk from
// divergence first fails to open: the divergence's own segment or the
// nearest earlier one absent from walDir.
func firstMissingSegment(t *testing.T, walDir string, divergence pgcluster.LSN) string {
	t.Helper()
	for seg := uint64(divergence) / walSegmentSize; ; seg-- {
		name := segmentFileName(1, seg)
		if _, err := os.Stat(filepath.Join(walDir, name)); os.IsNotExist(err) {
			return name
		}
		if seg == 0 {
			t.Fatalf("every timeline 1 segment up to %s is still in %s: nothing was recycled", divergence, walDir)
		}
	}
}

// segmentFileName names a WAL segment file the way PostgreSQL does for
// 16 MiB segments.
func segmentFileName(tli uint32, seg uint64) string {
	const perLog = 0x100000000 / walSegmentSize
	return fmt.Sprintf("%08X%08X%08X", tli, seg/perLog, seg%perLog)
}
