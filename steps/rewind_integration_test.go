package steps

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

var (
	engineBuild    sync.Once
	engineDir      string
	engineBinary   string
	engineBuildErr error
)

// TestMain removes the engine built for the tests, whichever test built it.
func TestMain(m *testing.M) {
	code := m.Run()
	if engineDir != "" {
		_ = os.RemoveAll(engineDir)
	}
	os.Exit(code)
}

// builtEngine builds cmd/pgrunbook once per test binary, in a directory
// every user can read: the steps ship it as the engine (the test binary
// itself is not pgrunbook).
func builtEngine(t *testing.T) string {
	t.Helper()
	engineBuild.Do(func() {
		dir, err := os.MkdirTemp("", "pgrunbook-steps-engine")
		if err != nil {
			engineBuildErr = err
			return
		}
		engineDir = dir
		bin := filepath.Join(dir, "pgrunbook")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(goTool, "build", "-o", bin, "github.com/pgrunbook/pgrunbook/cmd/pgrunbook").CombinedOutput()
		if err != nil {
			engineBuildErr = fmt.Errorf("build pgrunbook: %v\n%s", err, out)
			return
		}
		engineBuildErr = os.Chmod(dir, 0o755)
		engineBinary = bin
	})
	if engineBuildErr != nil {
		t.Fatal(engineBuildErr)
	}
	return engineBinary
}

// segmentFile matches WAL segment file names.
var segmentFile = regexp.MustCompile(`^[0-9A-F]{24}$`)

// splitBrainWithRecycledWAL is the seed's failure: the old primary kept
// writing after the promotion, across segments and checkpoints, and every
// segment before its latest redo point exists only in the archive. The
// old primary is stopped cleanly; the new primary (s.Standby) runs and
// asks the rewind role for a password over TCP.
func splitBrainWithRecycledWAL(t *testing.T, password string) (s *rewindtest.Scenario, archive string) {
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
	s.StandbySQL("ALTER ROLE " + rewindtest.RewindRole + " PASSWORD " + quoteLiteral(password))
	hba := filepath.Join(s.Standby.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	must(t, err)
	line := "host all " + rewindtest.RewindRole + " 127.0.0.1/32 scram-sha-256\n"
	must(t, os.WriteFile(hba, append([]byte(line), old...), 0o600))
	must(t, s.Standby.Reload(s.Ctx))
	redo, err := s.Primary.QueryValue(s.Ctx, "postgres", "SELECT pg_walfile_name(redo_lsn) FROM pg_control_checkpoint()")
	must(t, err)
	must(t, s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	s.StandbySQL("CHECKPOINT")
	walDir := filepath.Join(s.Primary.DataDir, "pg_wal")
	entries, err := os.ReadDir(walDir)
	must(t, err)
	for _, e := range entries {
		n := e.Name()
		if !segmentFile.MatchString(n) || n[8:] >= redo[8:] {
			continue
		}
		if _, err := os.Stat(filepath.Join(archive, n)); err == nil {
			must(t, os.Remove(filepath.Join(walDir, n)))
		} else {
			must(t, os.Rename(filepath.Join(walDir, n), filepath.Join(archive, n)))
		}
	}
	return s, archive
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// pgRewindNeeds runs PostgreSQL 15's pg_rewind -n -c on a copy of the
// target with a restore_command that logs each file: what a rewind really
// fetches beyond pg_wal.
func pgRewindNeeds(t *testing.T, s *rewindtest.Scenario, archive string) []string {
	t.Helper()
	tmp := s.TempDir()
	cp := filepath.Join(tmp, "copy")
	if out, err := exec.Command("cp", "-a", s.Primary.DataDir, cp).CombinedOutput(); err != nil {
		t.Fatalf("copy target: %v\n%s", err, out)
	}
	log := filepath.Join(tmp, "fetched.log")
	f, err := os.OpenFile(filepath.Join(cp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString("\nrestore_command = " + pgcluster.QuoteConf("echo %f >> "+log+" && cp "+archive+"/%f %p") + "\n")
	must(t, err)
	must(t, f.Close())
	cmd, err := pgcluster.Command(s.Ctx, s.Primary.Bin("pg_rewind"), "-n", "-c", "-D", cp,
		"--source-server="+s.Standby.ConnString("postgres"))
	must(t, err)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_rewind -n -c: %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	must(t, err)
	names := strings.Fields(string(b))
	sort.Strings(names)
	return slices.Compact(names)
}

// walListing lists pg_wal's names.
func walListing(t *testing.T, pgdata string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(pgdata, "pg_wal"))
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// remoteDirFor is a remote_dir the login user (root) creates and postgres
// can enter.
func remoteDirFor(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	must(t, os.Chmod(base, 0o755))
	must(t, os.Chmod(filepath.Dir(base), 0o711))
	return filepath.Join(base, "remote")
}

// TestWALStageAndRewindStepsIntegration runs the seed's rejoin with the
// steps of this file on the local transport: wal_stage stages exactly what
// pg_rewind -c fetches, rewind (the shipped engine, a password through a
// passfile) succeeds, the node starts as a standby, and a second pass of
// both steps is ok. --check changes nothing.
func TestWALStageAndRewindStepsIntegration(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"native", "pg_rewind"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			testWALStageAndRewindSteps(t, engine)
		})
	}
}

func testWALStageAndRewindSteps(t *testing.T, engine string) {
	const password = "s3cr:et 'pw"
	s, archive := splitBrainWithRecycledWAL(t, password)
	bin := builtEngine(t)
	want := pgRewindNeeds(t, s, archive)
	ctx := s.Ctx
	source := s.Standby.TCPConnString(rewindtest.RewindRole) + " password=" + quoteConnValue(password)
	host := &runbook.Host{Name: "pg1", Vars: map[string]any{"remote_dir": remoteDirFor(t)}}
	reports := t.TempDir()
	var progress []runbook.Progress
	var output []string
	var mu sync.Mutex
	tgt := func(check bool) *runbook.Target {
		tg := target("postgres", check, false)
		tg.Host = host
		tg.Progress = func(p runbook.Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }
		tg.Output = func(_, l string) { mu.Lock(); output = append(output, l); mu.Unlock() }
		return tg
	}
	stage := &WALStage{PGData: s.Primary.DataDir, ArchiveDir: archive, SourceServer: source, EngineBinary: bin}
	rewind := &Rewind{PGData: s.Primary.DataDir, SourceServer: source, EngineBinary: bin, ReportDir: reports,
		Timeout: Duration(5 * time.Minute), Engine: engine}

	before := walListing(t, s.Primary.DataDir)
	out, err := stage.Run(ctx, tgt(true))
	if err != nil {
		t.Fatalf("wal_stage --check: %v", err)
	}
	if !out.Changed || !strings.Contains(out.Msg, "would stage") || !slices.Equal(stagedNames(out.Facts["report"].(map[string]any)), want) {
		t.Errorf("wal_stage --check: changed=%v %s; want would stage %v", out.Changed, out.Msg, want)
	}
	out, err = rewind.Run(ctx, tgt(true))
	if err != nil {
		t.Fatalf("rewind --check: %v", err)
	}
	if !out.Changed || !strings.HasPrefix(out.Msg, "would rewind; servers diverged at ") {
		t.Errorf("rewind --check: changed=%v %q", out.Changed, out.Msg)
	}
	if engine == "pg_rewind" {
		// The need-check for majors the engine cannot read: pg_rewind -n.
		d, err := pgVersion(ctx, tgt(true), s.Primary.DataDir, "")
		must(t, err)
		ho, err := rewind.runHostOnly(ctx, tgt(true), newRemoteEngine(tgt(true), bin), d)
		if err != nil || !ho.Changed || ho.Msg != out.Msg {
			t.Errorf("rewind --check by pg_rewind -n: changed=%v %q %v; want %q", ho.Changed, ho.Msg, err, out.Msg)
		}
	}
	if after := walListing(t, s.Primary.DataDir); !slices.Equal(after, before) {
		t.Fatalf("--check changed pg_wal:\nbefore %v\nafter  %v", before, after)
	}

	out, err = stage.Run(ctx, tgt(false))
	if err != nil {
		t.Fatalf("wal_stage: %v", err)
	}
	if got := stagedNames(out.Facts["report"].(map[string]any)); !out.Changed || !slices.Equal(got, want) {
		t.Errorf("wal_stage: changed=%v staged %v; pg_rewind -c fetched %v (%s)", out.Changed, got, want, out.Msg)
	}
	t.Logf("wal_stage: %s", out.Msg)
	for _, n := range want {
		if owner := fileOwner(t, filepath.Join(s.Primary.DataDir, "pg_wal", n)); owner != "postgres" {
			t.Errorf("staged %s owned by %s", n, owner)
		}
	}

	out, err = rewind.Run(ctx, tgt(false))
	if err != nil {
		t.Fatalf("rewind: %v", err)
	}
	t.Logf("rewind: %s", out.Msg)
	rep, _ := out.Facts["report"].(map[string]any)
	if !out.Changed || !strings.HasPrefix(out.Msg, "rewound, servers diverged at ") || rep["rewind_needed"] != true {
		t.Errorf("rewind: changed=%v %q report %v", out.Changed, out.Msg, rep)
	}
	checkEngineCommand(t, out.Facts["command"], password)
	if files, _ := filepath.Glob(filepath.Join(reports, "pg1-rewind-*.json")); len(files) != 1 {
		t.Errorf("report_dir holds %v; want one rewind report", files)
	}
	mu.Lock()
	sawCopy := slices.ContainsFunc(progress, func(p runbook.Progress) bool { return p.Phase == "copying" || p.Phase == "copied" })
	sawDone := slices.ContainsFunc(output, func(l string) bool { return strings.Contains(l, "Done!") })
	mu.Unlock()
	switch {
	case engine == "native" && !sawCopy:
		t.Errorf("no copy progress streamed: %+v", progress)
	case engine == "pg_rewind" && !sawDone:
		t.Errorf("pg_rewind's output did not stream: %q", output)
	}

	// Rejoin as a standby of the new primary, with this node's identity.
	for _, a := range []runbook.Action{
		&Recovery{PGData: s.Primary.DataDir, PrimaryConninfo: s.Standby.ConnString("postgres") + " application_name=" + s.Primary.Name},
		&PgConf{PGData: s.Primary.DataDir, Set: map[string]any{"port": s.Primary.Port, "unix_socket_directories": s.Primary.SocketDir}},
		&PgStart{PGData: s.Primary.DataDir, Timeout: Duration(30 * time.Second)},
	} {
		if _, err := a.Run(ctx, target("postgres", false, false)); err != nil {
			t.Fatalf("%T: %v", a, err)
		}
	}
	must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
	if v, err := s.Primary.QueryValue(ctx, "postgres", "SELECT count(*) FROM t1 WHERE id IN (1001, 1002)"); err != nil || v != "2" {
		t.Errorf("rejoined node has %s of the new primary's rows (%v)", v, err)
	}

	// Second pass: nothing is missing and no rewind is needed.
	out, err = stage.Run(ctx, tgt(false))
	if err != nil || out.Changed {
		t.Errorf("second wal_stage: changed=%v %q %v", out.Changed, out.Msg, err)
	}
	out, err = rewind.Run(ctx, tgt(false))
	if err != nil || out.Changed || !strings.HasSuffix(out.Msg, "no rewind required") {
		t.Errorf("second rewind: changed=%v %q %v", out.Changed, out.Msg, err)
	}
	checkEngineCommand(t, out.Facts["command"], password)
}

// checkEngineCommand asserts that the engine's command line carried no
// password but a passfile, and that the passfile's directory is gone.
func checkEngineCommand(t *testing.T, command any, password string) {
	t.Helper()
	line := fmt.Sprint(command)
	if strings.Contains(line, "s3cr") || strings.Contains(line, password) {
		t.Errorf("engine command line carries the password: %s", line)
	}
	m := regexp.MustCompile(`passfile=(/tmp/pgrunbook-engine\.[A-Za-z0-9]+)/pgpass`).FindStringSubmatch(line)
	if m == nil {
		t.Errorf("engine command line uses no passfile: %s", line)
		return
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("work directory %s with the passfile survived (stat: %v)", m[1], err)
	}
}
