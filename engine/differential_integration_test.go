package engine_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestDifferential rewinds two copies of one diverged target, one with
// PostgreSQL 15's pg_rewind and one with the engine, and requires the
// same decision for every file (the --debug file maps match line for
// line), byte-identical data directories apart from the two files that
// carry the time of the run, and, once each copy runs as a standby of the
// new primary, the new primary's data.
func TestDifferential(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE tbl1 (id int primary key, d text)")
	s.PrimarySQL("INSERT INTO tbl1 SELECT g, 'in primary ' || g FROM generate_series(1, 2000) g")
	s.PrimarySQL("CREATE TABLE trunc_tbl (d text)")
	s.PrimarySQL("INSERT INTO trunc_tbl VALUES ('in primary')")
	s.PrimarySQL("CREATE TABLE tail_tbl (id integer, d text)")
	s.PrimarySQL("INSERT INTO tail_tbl SELECT g, 'tail ' || g FROM generate_series(1, 10000) g")
	s.PrimarySQL("CREATE TABLE drop_tbl (d text)")
	s.PrimarySQL("INSERT INTO drop_tbl VALUES ('in primary')")
	s.PrimarySQL("CHECKPOINT")
	s.CreateStandby(pgcluster.Options{})
	s.PrimarySQL("UPDATE tbl1 SET d = 'before promotion' WHERE id % 7 = 0")
	s.PrimarySQL("CHECKPOINT")
	s.PromoteStandby()

	// Split brain: the old primary changes blocks all over, extends,
	// shrinks and drops relations, and creates a database; the new one
	// writes its own changes.
	s.PrimarySQL("UPDATE tbl1 SET d = 'old primary after the split' WHERE id % 3 = 0")
	s.PrimarySQL("INSERT INTO trunc_tbl SELECT 'old primary ' || g FROM generate_series(1, 10000) g")
	s.PrimarySQL("DELETE FROM tail_tbl WHERE id > 10")
	s.PrimarySQL("VACUUM tail_tbl")
	s.PrimarySQL("DROP TABLE drop_tbl")
	s.PrimarySQL("CREATE DATABASE only_on_old_primary")
	s.StandbySQL("UPDATE tbl1 SET d = 'new primary after the split' WHERE id % 5 = 0")
	s.StandbySQL("CREATE TABLE new_tbl AS SELECT g AS id FROM generate_series(1, 500) g")
	s.StandbySQL("CHECKPOINT")

	check := func(c *pgcluster.Cluster) {
		t.Helper()
		for _, q := range []string{
			"SELECT count(*), sum(hashtext(d)) FROM tbl1",
			"SELECT count(*) FROM trunc_tbl",
			"SELECT count(*) FROM tail_tbl",
			"SELECT count(*) FROM drop_tbl",
			"SELECT count(*) FROM new_tbl",
			"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database",
		} {
			rows, err := s.Standby.Query(ctx, "postgres", q)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, r := range rows {
				want = append(want, strings.Join(r, "|"))
			}
			rewindtest.CheckQuery(t, ctx, c, q, want...)
		}
	}

	must(t, s.Primary.Stop(ctx, pgcluster.StopFast))
	must(t, s.Standby.Stop(ctx, pgcluster.StopFast))
	savedConf := filepath.Join(t.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	// In a directory postgres owns: the engine writes its in-progress
	// marker next to the data directory.
	engineCopy := filepath.Join(s.TempDir(), "data")
	copyTree(t, s.Primary.DataDir, engineCopy)
	report := filepath.Join(s.TempDir(), "report.json")

	base := []string{"--debug", "--no-sync", "--source-pgdata", s.Standby.DataDir}
	oracle := rewindtest.Rewinder{Path: rewindtest.DefaultBin}
	before := snapshot(t, engineCopy)
	// The engine trims by default; --faithful must copy exactly what
	// pg_rewind copies, which is what this test proves.
	dry := run(t, s, ours, append(base, "--faithful", "--target-pgdata", engineCopy, "--dry-run")...)
	if after := snapshot(t, engineCopy); !reflect.DeepEqual(before, after) {
		t.Fatalf("--dry-run changed the target\n%s", dry)
	}
	want := run(t, s, oracle, append(base, "--target-pgdata", s.Primary.DataDir)...)
	got := run(t, s, ours, append(base, "--faithful", "--target-pgdata", engineCopy, "--report", report)...)

	wantMap, gotMap := fileMapLines(want.Stderr), fileMapLines(got.Stderr)
	if len(wantMap) == 0 {
		t.Fatalf("pg_rewind printed no file map\n%s", want)
	}
	if strings.Join(wantMap, "\n") != strings.Join(gotMap, "\n") {
		t.Fatalf("file maps differ\n--- pg_rewind ---\n%s\n--- engine ---\n%s", strings.Join(wantMap, "\n"), strings.Join(gotMap, "\n"))
	}
	for _, line := range []string{"servers diverged at WAL location", "rewinding from last common checkpoint at"} {
		if a, b := lineWith(want.Stderr, line), lineWith(got.Stderr, line); a == "" || a != b {
			t.Fatalf("pg_rewind says %q, the engine %q", a, b)
		}
	}
	t.Logf("file maps agree on %d lines", len(wantMap))
	compareTrees(t, s.Primary.DataDir, engineCopy)
	compareTimedFiles(t, s.Primary.DataDir, engineCopy)
	checkReport(t, report, lineWith(want.Stderr, "servers diverged at WAL location"))

	// Each copy must come up as a standby and reach the new primary's data.
	must(t, s.Standby.Start(ctx))
	startAndCheck := func(what string) {
		copyFile(t, savedConf, s.Primary.ConfPath())
		must(t, s.Primary.FollowNew(ctx, s.Standby))
		must(t, s.Primary.Start(ctx))
		must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
		rewindtest.CheckQuery(t, ctx, s.Primary, "SELECT pg_is_in_recovery()", "t")
		check(s.Primary)
		must(t, s.Primary.Stop(ctx, pgcluster.StopFast))
		t.Logf("the copy rewound by %s follows the new primary with its data", what)
	}
	startAndCheck("pg_rewind")
	oracleCopy := filepath.Join(t.TempDir(), "data")
	must(t, os.Rename(s.Primary.DataDir, oracleCopy))
	must(t, os.Rename(engineCopy, s.Primary.DataDir))
	startAndCheck("the engine")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs a rewinder and requires success.
func run(t *testing.T, s *rewindtest.Scenario, r rewindtest.Rewinder, args ...string) rewindtest.Result {
	t.Helper()
	res, err := r.Run(s.Ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s failed\n%s", r.Path, res)
	}
	return res
}

var fileMapLine = regexp.MustCompile(`^pg_rewind: (.+ \((CREATE|COPY|COPY_TAIL|NONE|TRUNCATE|REMOVE)\)|block \d+)$`)

// fileMapLines extracts the --debug file map from a rewind's stderr.
func fileMapLines(stderr string) []string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if m := fileMapLine.FindStringSubmatch(l); m != nil {
			lines = append(lines, m[1])
		}
	}
	return lines
}

// lineWith returns the first line of s containing sub.
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// fileState is what a dry run must not change about a path.
type fileState struct {
	mode  fs.FileMode
	size  int64
	mtime int64
}

// snapshot records every path's mode, size and modification time.
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	m := map[string]fileState{}
	err := filepath.Walk(root, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		m[p] = fileState{info.Mode(), info.Size(), info.ModTime().UnixNano()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// timeOfRun are the files whose content includes the time of the rewind.
var timeOfRun = map[string]bool{"backup_label": true, "global/pg_control": true}

// compareTrees requires the same entries with the same types, modes and,
// for regular files, the same content.
func compareTrees(t *testing.T, a, b string) {
	t.Helper()
	list := func(root string) map[string]fs.FileInfo {
		m := map[string]fs.FileInfo{}
		err := filepath.Walk(root, func(p string, info fs.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			m[rel] = info
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ta, tb := list(a), list(b)
	for rel, ia := range ta {
		ib, ok := tb[rel]
		if !ok {
			t.Errorf("%s: only in the copy rewound by pg_rewind", rel)
			continue
		}
		if ia.Mode() != ib.Mode() {
			t.Errorf("%s: mode %v after pg_rewind, %v after the engine", rel, ia.Mode(), ib.Mode())
		}
		if !ia.Mode().IsRegular() || timeOfRun[rel] {
			continue
		}
		ca, err1 := os.ReadFile(filepath.Join(a, rel))
		cb, err2 := os.ReadFile(filepath.Join(b, rel))
		if err1 != nil || err2 != nil {
			t.Fatalf("read %s: %v %v", rel, err1, err2)
		}
		if !bytes.Equal(ca, cb) {
			t.Errorf("%s: content differs (%d bytes after pg_rewind, %d after the engine)", rel, len(ca), len(cb))
		}
	}
	for rel := range tb {
		if _, ok := ta[rel]; !ok {
			t.Errorf("%s: only in the copy rewound by the engine", rel)
		}
	}
}

// compareTimedFiles compares the two files that carry the time of the
// run, with the time left out: pg_control field by field, backup_label
// line by line.
func compareTimedFiles(t *testing.T, a, b string) {
	t.Helper()
	control := func(dir string) []byte {
		cf, err := pgcontrol.Read(filepath.Join(dir, "global", "pg_control"))
		if err != nil {
			t.Fatal(err)
		}
		cf.Time = 0
		return cf.Marshal()
	}
	if !bytes.Equal(control(a), control(b)) {
		t.Errorf("global/pg_control differs beyond its time field")
	}
	label := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "backup_label"))
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "START TIME:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if la, lb := label(a), label(b); la != lb {
		t.Errorf("backup_label differs:\n--- pg_rewind ---\n%s\n--- engine ---\n%s", la, lb)
	}
}

// checkReport reads the engine's --report and checks it against what
// pg_rewind printed.
func checkReport(t *testing.T, path, divergedLine string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep engine.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report %s: %v\n%s", path, err, b)
	}
	if !rep.RewindNeeded || rep.Divergence == nil || rep.LastCommonCheckpoint == nil || rep.Lost == nil {
		t.Fatalf("report lacks the rewind's facts:\n%s", b)
	}
	if want := "at WAL location " + rep.Divergence.LSN + " on timeline 1"; !strings.HasSuffix(divergedLine, want) {
		t.Fatalf("report divergence %+v, pg_rewind said %q", rep.Divergence, divergedLine)
	}
	if rep.Actions["COPY"].Files == 0 || rep.Actions["TRUNCATE"].Files == 0 || rep.Actions["COPY_TAIL"].Files == 0 {
		t.Fatalf("report actions miss COPY, TRUNCATE or COPY_TAIL:\n%s", b)
	}
	if rep.BytesSkipped != (engine.SkipCounts{}) || rep.FilesSkipped != (engine.SkipCounts{}) {
		t.Fatalf("--faithful skipped files:\n%s", b)
	}
	if rep.BytesFetched <= 0 || rep.Lost.WALBytes <= 0 || len(rep.Lost.Commits) == 0 || len(rep.Lost.Relations) == 0 {
		t.Fatalf("report counts are empty:\n%s", b)
	}
}
