package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// walName matches WAL segment file names.
var walName = regexp.MustCompile(`^[0-9A-F]{24}$`)

// seedScenario builds the seed's failure: after a promotion the old primary
// kept writing across segments and checkpoints, and every segment before
// its latest redo point left pg_wal for the archive. The old primary is
// stopped; the new primary runs.
func seedScenario(t *testing.T) (s *rewindtest.Scenario, archive string) {
	t.Helper()
	archive = filepath.Join(t.TempDir(), "arch")
	s = rewindtest.NewScenario(t, pgcluster.Options{
		ArchiveDir: archive,
		ExtraConf:  []string{"wal_keep_size = 0", "min_wal_size = 32MB", "max_wal_size = 64MB"},
	})
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t1 AS SELECT g AS id FROM generate_series(1, 1000) g")
	s.CreateStandby(pgcluster.Options{ArchiveDir: s.TempDir()})
	s.PrimarySQL("CHECKPOINT")
	s.PrimarySQL("SELECT pg_switch_wal()")
	s.PrimarySQL("INSERT INTO t1 VALUES (1001)")
	s.PromoteStandby()
	s.PrimarySQL("CREATE TABLE t2 AS SELECT g AS id FROM generate_series(1, 1000) g")
	for range 3 {
		s.PrimarySQL("INSERT INTO t1 SELECT g FROM generate_series(2000, 12000) g")
		s.PrimarySQL("SELECT pg_switch_wal()")
		s.PrimarySQL("CHECKPOINT")
	}
	s.StandbySQL("INSERT INTO t1 VALUES (1002)")
	redo, err := s.Primary.QueryValue(s.Ctx, "postgres", "SELECT pg_walfile_name(redo_lsn) FROM pg_control_checkpoint()")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Primary.Stop(s.Ctx, pgcluster.StopFast); err != nil {
		t.Fatal(err)
	}
	s.StandbySQL("CHECKPOINT")
	walDir := filepath.Join(s.Primary.DataDir, "pg_wal")
	entries, err := os.ReadDir(walDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if !walName.MatchString(n) || n[8:] >= redo[8:] {
			continue
		}
		if _, err := os.Stat(filepath.Join(archive, n)); err == nil {
			err = os.Remove(filepath.Join(walDir, n))
			if err != nil {
				t.Fatal(err)
			}
		} else if err := os.Rename(filepath.Join(walDir, n), filepath.Join(archive, n)); err != nil {
			t.Fatal(err)
		}
	}
	return s, archive
}

// walFiles lists the WAL segment files in dir.
func walFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if walName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

// pgRewindFetches runs PostgreSQL 15's own pg_rewind -n -c on a copy of the
// target, with a restore_command that logs each file it is asked for: the
// segments a real rewind needs beyond what pg_wal holds.
func pgRewindFetches(t *testing.T, s *rewindtest.Scenario, archive string) []string {
	t.Helper()
	tmp := s.TempDir()
	cp := filepath.Join(tmp, "copy")
	if out, err := exec.Command("cp", "-a", s.Primary.DataDir, cp).CombinedOutput(); err != nil {
		t.Fatalf("copy target: %v\n%s", err, out)
	}
	log := filepath.Join(tmp, "fetched.log")
	rc := `echo %f >> ` + log + ` && cp ` + archive + `/%f %p`
	f, err := os.OpenFile(filepath.Join(cp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nrestore_command = " + pgcluster.QuoteConf(rc) + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd, err := pgcluster.Command(s.Ctx, s.Primary.Bin("pg_rewind"), "-n", "-c", "-D", cp,
		"--source-server="+s.Standby.ConnString(rewindtest.RewindRole))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_rewind -n -c: %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("pg_rewind fetched nothing: %v", err)
	}
	names := strings.Fields(string(b))
	sort.Strings(names)
	return slices.Compact(names)
}

func stagedNames(rep *engine.StageReport) []string {
	var names []string
	for _, f := range rep.Staged {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// TestStageWALSeed stages exactly the segments a rewind of the seed's
// target needs, checks that a dry run changes nothing, that PostgreSQL's
// own pg_rewind then succeeds without any archive access, and that a
// second staging after the rewind has nothing to do.
func TestStageWALSeed(t *testing.T) {
	t.Parallel()
	s, archive := seedScenario(t)
	walDir := filepath.Join(s.Primary.DataDir, "pg_wal")
	want := pgRewindFetches(t, s, archive)
	opts := engine.StageOptions{
		TargetDir: s.Primary.DataDir, SourceConninfo: s.Standby.ConnString(rewindtest.RewindRole), ArchiveDir: archive,
	}

	before := walFiles(t, walDir)
	check := opts
	check.CheckOnly = true
	rep, err := engine.StageWAL(s.Ctx, check)
	if err != nil {
		t.Fatalf("check only: %v", err)
	}
	if !rep.RewindNeeded || rep.Divergence == nil || len(rep.Staged) != 0 {
		t.Fatalf("check only: %+v; want a rewind needed, a divergence, nothing staged", rep)
	}

	// The dry run fetches with a restore_command instead of the directory.
	dry := opts
	dry.DryRun = true
	dry.ArchiveDir, dry.RestoreCommand = "", `cp "`+archive+`/%f" "%p"`
	rep, err = engine.StageWAL(s.Ctx, dry)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := walFiles(t, walDir); !slices.Equal(got, before) {
		t.Fatalf("dry run changed pg_wal:\nbefore %v\nafter  %v", before, got)
	}
	if got := stagedNames(rep); !slices.Equal(got, want) || rep.Staged[0].From != "restore_command" {
		t.Errorf("dry run would stage %+v; pg_rewind -c fetched %v", rep.Staged, want)
	}

	rep, err = engine.StageWAL(s.Ctx, opts)
	if err != nil {
		t.Fatalf("stage: %v", err)
	}
	if err := pgcluster.HandOver(walDir); err != nil {
		t.Fatal(err)
	}
	if got := stagedNames(rep); !slices.Equal(got, want) {
		t.Errorf("staged %v; pg_rewind -c fetched %v", got, want)
	}
	for _, f := range rep.Staged {
		if f.Bytes != 16<<20 || f.From != filepath.Join(archive, f.Name) {
			t.Errorf("staged %+v; want 16 MiB from the archive", f)
		}
	}
	if len(rep.Present) == 0 || rep.LastCommonCheckpoint == nil || rep.Needed.From == "" || rep.Needed.To == "" {
		t.Errorf("report lacks the present segments or the needed range: %+v", rep)
	}
	for _, n := range walFiles(t, walDir) {
		if strings.Contains(n, ".pgrunbook-tmp") {
			t.Errorf("temporary file %s left in pg_wal", n)
		}
	}
	t.Logf("divergence %s, staged %v, present %v", rep.Divergence.LSN, stagedNames(rep), rep.Present)

	// PostgreSQL's own pg_rewind, which cannot fetch, now has all it needs.
	s.RewindOK("pg_rewind after staging", "-D", s.Primary.DataDir,
		"--source-server="+s.Standby.ConnString(rewindtest.RewindRole), "--no-sync")

	rep, err = engine.StageWAL(s.Ctx, opts)
	if err != nil {
		t.Fatalf("stage after the rewind: %v", err)
	}
	if rep.RewindNeeded || len(rep.Staged) != 0 {
		t.Errorf("after the rewind: needed=%v staged=%v; want nothing", rep.RewindNeeded, rep.Staged)
	}
}

// TestStageWALBadArchive refuses an archived file that is not the segment
// its name says (it never takes that name in pg_wal, and no temporary file
// is left), then names the segment that neither pg_wal nor the archive
// has, and where it was looked for.
func TestStageWALBadArchive(t *testing.T) {
	t.Parallel()
	s, archive := seedScenario(t)
	want := pgRewindFetches(t, s, archive)
	gone := want[0]
	opts := engine.StageOptions{
		TargetDir: s.Primary.DataDir, SourceConninfo: s.Standby.ConnString(rewindtest.RewindRole), ArchiveDir: archive,
	}
	walDir := filepath.Join(s.Primary.DataDir, "pg_wal")
	before := walFiles(t, walDir)
	b, err := os.ReadFile(filepath.Join(archive, want[1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(archive, gone), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = engine.StageWAL(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "page address") || !strings.Contains(err.Error(), gone) {
		t.Fatalf("misnamed archive file: error = %v; want a page address mismatch naming %s", err, gone)
	}
	entries, err := os.ReadDir(walDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == gone || strings.Contains(e.Name(), "pgrunbook-tmp") {
			t.Errorf("%s left in pg_wal after a refused fetch", e.Name())
		}
	}
	if got := walFiles(t, walDir); len(got) < len(before) {
		t.Errorf("pg_wal lost files: %v -> %v", before, got)
	}

	if err := os.Remove(filepath.Join(archive, gone)); err != nil {
		t.Fatal(err)
	}
	_, err = engine.StageWAL(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), gone) || !strings.Contains(err.Error(), archive) ||
		!strings.Contains(err.Error(), filepath.Join(s.Primary.DataDir, "pg_wal")) {
		t.Fatalf("error = %v; want one naming %s, the archive %s and pg_wal", err, gone, archive)
	}
}
