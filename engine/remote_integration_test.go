package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestRemoteRewind rewinds from a running new primary over three
// connections with -P, --progress-json, -R and --report, checks the
// output a user and the executor see, that the stale primary_conninfo the
// rewind copied from the source is replaced rather than duplicated, and
// that the rewound node then streams from the new primary.
func TestRemoteRewind(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	ctx := s.Ctx
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int, d text)")
	s.PrimarySQL("INSERT INTO t SELECT g, 'common ' || g FROM generate_series(1, 1000) g")
	s.CreateStandby(pgcluster.Options{})
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO t SELECT g, 'lost ' || g FROM generate_series(1001, 50000) g")
	s.PrimarySQL("CREATE TABLE lost (id int)")
	s.StandbySQL("INSERT INTO t VALUES (1001, 'new primary')")
	// A stale setting the rewind will copy from the source.
	must(t, s.Standby.WriteFile("postgresql.auto.conf", []byte("primary_conninfo = 'host=stale.example'\n"), 0o600))
	must(t, s.Primary.Stop(ctx, pgcluster.StopFast))
	savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	report := filepath.Join(s.TempDir(), "report.json")

	res := run(t, s, ours, "-P", "--progress-json", "--jobs", "3", "-R", "--no-sync",
		"--source-server", s.Standby.ConnString(rewindtest.RewindRole), "--target-pgdata", s.Primary.DataDir,
		"--config-file", savedConf, "--report", report)
	for _, want := range []string{"pg_rewind: connected to server\n", "pg_rewind: servers diverged at WAL location ",
		"pg_rewind: reading source file list\n", "pg_rewind: reading target file list\n", "pg_rewind: reading WAL in target\n",
		"pg_rewind: need to copy ", " kB (100%) copied\n", "pg_rewind: creating backup label and updating control file\n",
		"pg_rewind: syncing target data directory\n", "pg_rewind: Done!\n"} {
		if !strings.Contains(res.Stderr, want) {
			t.Fatalf("stderr lacks %q\n%s", want, res)
		}
	}
	checkProgressJSON(t, res.Stdout)

	auto, err := os.ReadFile(filepath.Join(s.Primary.DataDir, "postgresql.auto.conf"))
	must(t, err)
	var settings []string
	for _, l := range strings.Split(string(auto), "\n") {
		if strings.HasPrefix(l, "primary_conninfo") {
			settings = append(settings, l)
		}
	}
	if len(settings) != 1 || !strings.Contains(settings[0], "user=rewind_user") || strings.Contains(settings[0], "dbname") {
		t.Fatalf("postgresql.auto.conf should set primary_conninfo once, to the source without dbname:\n%s", auto)
	}
	if !s.Primary.IsStandby() {
		t.Fatal("no standby.signal after -R")
	}

	var rep engine.Report
	b, err := os.ReadFile(report)
	must(t, err)
	must(t, json.Unmarshal(b, &rep))
	if rep.BytesFetched <= 0 || rep.Actions["COPY"].Files == 0 || rep.Lost == nil || rep.Lost.WALBytes <= 0 {
		t.Fatalf("report:\n%s", b)
	}

	copyFile(t, savedConf, s.Primary.ConfPath())
	s.StandbySQL("ALTER ROLE " + rewindtest.RewindRole + " WITH REPLICATION")
	must(t, s.Primary.Start(ctx))
	s.StandbySQL("INSERT INTO t VALUES (1002, 'after the rewind')")
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	s.CheckQuery("SELECT count(*), max(id) FROM t", "1002|1002")
	s.CheckQuery("SELECT count(*) FROM pg_class WHERE relname = 'lost'", "0")
}

// checkProgressJSON requires stdout to be JSON lines only, going through
// the copy to a final line where every byte is done.
func checkProgressJSON(t *testing.T, stdout string) {
	t.Helper()
	var phases []string
	var last engine.Progress
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var p engine.Progress
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatalf("stdout line %q is not a progress object: %v\n%s", l, err, stdout)
		}
		if p.Unit != "bytes" {
			t.Fatalf("progress line %q has unit %q", l, p.Unit)
		}
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Phase == engine.PhaseCopied {
			last = p
		}
	}
	got := strings.Join(phases, ",")
	want := strings.Join([]string{engine.PhaseReadingWAL, engine.PhaseListing, engine.PhaseReadingWAL,
		engine.PhaseCopying, engine.PhaseCopied, engine.PhaseSyncing, engine.PhaseDone}, ",")
	if !strings.HasSuffix(got, want) {
		t.Fatalf("progress phases %s, want them to end with %s", got, want)
	}
	if last.Total <= 0 || last.Done < last.Total {
		t.Fatalf("final copy progress %+v", last)
	}
}
