package steps

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// newPrimary starts a real PostgreSQL 15 primary (streaming allowed) that
// is destroyed when the test ends.
func newPrimary(t *testing.T, ctx context.Context) *pgcluster.Cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("PostgreSQL step tests run PostgreSQL 15 as the postgres user and need root; skipping")
	}
	c, err := pgcluster.Init(ctx, pgcluster.Options{Dir: t.TempDir(), Name: "pg1", AllowStreaming: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// newStandby makes a streaming standby of primary, not started.
func newStandby(t *testing.T, ctx context.Context, primary *pgcluster.Cluster) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.BaseBackup(ctx, primary, pgcluster.Options{Dir: t.TempDir(), Name: "pg2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy(context.Background()) })
	return c
}

func runStep(t *testing.T, ctx context.Context, a runbook.Action, check bool) runbook.Outcome {
	t.Helper()
	out, err := a.Run(ctx, target("postgres", check, true))
	if err != nil {
		t.Fatalf("%T (check=%v): %v", a, check, err)
	}
	return out
}

func controlState(t *testing.T, pgdata string) *pgcontrol.ControlFile {
	t.Helper()
	cf, err := pgcontrol.Read(filepath.Join(pgdata, "global", "pg_control"))
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func isRunning(t *testing.T, ctx context.Context, c *pgcluster.Cluster) bool {
	t.Helper()
	r, err := c.Running(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// crash kills the postmaster and all its children with SIGKILL, as a power
// loss would, and waits until they are gone.
func crash(t *testing.T, c *pgcluster.Cluster) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	// pg_ctl starts the postmaster in its own session, so its process
	// group holds every server process.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; syscall.Kill(-pid, 0) == nil; i++ {
		if i > 100 {
			t.Fatalf("server processes of pid %d survive SIGKILL", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPgStopIntegration(t *testing.T) {
	t.Parallel() // own clusters, own ports and directories
	ctx := context.Background()
	c := newPrimary(t, ctx)
	if err := c.Exec(ctx, "postgres", "CREATE TABLE t AS SELECT generate_series(1, 1000) AS a"); err != nil {
		t.Fatal(err)
	}
	stop := &PgStop{PGData: c.DataDir, Timeout: Duration(30 * time.Second)}

	// A client that stays connected holds a smart shutdown up: after
	// the timeout the step stops fast.
	client, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())
	out := runStep(t, ctx, &PgStop{PGData: c.DataDir, Mode: "smart", Timeout: Duration(time.Second)}, false)
	if !out.Changed || out.Msg != "smart stop did not finish within 1s; stopped (fast)" {
		t.Errorf("smart stop with a client connected: %+v", out)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}

	// A running server: check says what it would do and leaves it running.
	out = runStep(t, ctx, stop, true)
	if !out.Changed || !strings.Contains(out.Msg, "would stop") || !isRunning(t, ctx, c) {
		t.Fatalf("check run on a running server: %+v, running=%v", out, isRunning(t, ctx, c))
	}
	out = runStep(t, ctx, stop, false)
	if !out.Changed || out.Msg != "stopped (fast)" {
		t.Errorf("stop: %+v", out)
	}
	if isRunning(t, ctx, c) {
		t.Fatal("server still running after pg_stop")
	}
	if st := controlState(t, c.DataDir).State; st != pgcontrol.ShutDown {
		t.Errorf("pg_control state %v after stop; want shut down", st)
	}
	out = runStep(t, ctx, stop, false)
	if out.Changed || out.Msg != "already shut down, no postmaster running" {
		t.Errorf("second stop: %+v", out)
	}
	assertStateFallback(t, ctx, c.DataDir)

	// An immediate stop leaves no shutdown checkpoint: the step finishes
	// the job with crash recovery.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	out = runStep(t, ctx, &PgStop{PGData: c.DataDir, Mode: "immediate"}, false)
	if want := `stopped (immediate); crash-recovered in single-user mode (pg_control said "in production"; now "shut down" on timeline 1)`; out.Msg != want {
		t.Errorf("immediate stop: %q; want %q", out.Msg, want)
	}

	// A crashed node, marked as a standby to prove the signal file is
	// moved aside for single-user mode and put back.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", "INSERT INTO t SELECT generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	crash(t, c)
	if err := c.WriteFile("standby.signal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before := controlState(t, c.DataDir)
	if before.State != pgcontrol.InProduction {
		t.Fatalf("state after kill -9 is %v; want in production", before.State)
	}
	snap := snapshot(t, c.DataDir)
	out = runStep(t, ctx, stop, true)
	if !out.Changed || !strings.Contains(out.Msg, "would run single-user crash recovery") {
		t.Errorf("check run on a crashed node: %+v", out)
	}
	if snapshot(t, c.DataDir) != snap {
		t.Fatal("check run changed the data directory")
	}
	out = runStep(t, ctx, stop, false)
	if !out.Changed || !strings.Contains(out.Msg, "crash-recovered in single-user mode") || !strings.Contains(out.Msg, "standby.signal moved aside") {
		t.Errorf("crash recovery: %+v", out)
	}
	after := controlState(t, c.DataDir)
	if after.State != pgcontrol.ShutDown {
		t.Errorf("state after crash recovery %v; want shut down", after.State)
	}
	if after.Timeline() != before.Timeline() {
		t.Errorf("timeline moved from %d to %d", before.Timeline(), after.Timeline())
	}
	if after.CheckPoint <= before.CheckPoint {
		t.Errorf("no new checkpoint: %v, before %v", after.CheckPoint, before.CheckPoint)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "standby.signal")); err != nil {
		t.Errorf("standby.signal not put back: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "standby.signal"+asideSuffix)); !os.IsNotExist(err) {
		t.Errorf("aside file left behind: %v", err)
	}
	if out := runStep(t, ctx, stop, false); out.Changed {
		t.Errorf("stop after crash recovery: %+v", out)
	}

	// An interrupted crash recovery left the signal file aside: the next
	// run puts it back.
	if err := os.Rename(filepath.Join(c.DataDir, "standby.signal"), filepath.Join(c.DataDir, "standby.signal"+asideSuffix)); err != nil {
		t.Fatal(err)
	}
	out = runStep(t, ctx, stop, false)
	if !out.Changed || !strings.Contains(out.Msg, "put back standby.signal") {
		t.Errorf("restore aside: %+v", out)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "standby.signal")); err != nil {
		t.Errorf("standby.signal not put back: %v", err)
	}
}

// assertStateFallback checks that pg_controldata, used for majors whose
// pg_control layout is not checked, reads the same state as our parser.
func assertStateFallback(t *testing.T, ctx context.Context, pgdata string) {
	t.Helper()
	tg := target("postgres", false, false)
	ours, err := (&dataDir{Path: pgdata, Major: 15, BinDir: pgBin}).state(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := (&dataDir{Path: pgdata, Major: 99, BinDir: pgBin}).state(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if ours != theirs || ours.State != "shut down" || ours.WalMinimal {
		t.Errorf("state from pg_control %+v, from pg_controldata %+v", ours, theirs)
	}
}

func TestPgStopErrors(t *testing.T) {
	ctx := context.Background()
	dir := postgresDir(t)
	cases := []struct {
		name string
		step *PgStop
		want string
	}{
		{"no pgdata", &PgStop{}, "pg_stop: pgdata is required"},
		{"bad mode", &PgStop{PGData: dir, Mode: "quick"}, `mode "quick" must be smart, fast or immediate`},
		{"not a data directory", &PgStop{PGData: dir}, dir + " is not a PostgreSQL data directory (no PG_VERSION)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.step.Run(ctx, target("postgres", false, false))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want %q", err, tc.want)
			}
		})
	}
}

func TestPgStartIntegration(t *testing.T) {
	t.Parallel() // own clusters, own ports and directories
	ctx := context.Background()
	primary := newPrimary(t, ctx)
	standby := newStandby(t, ctx, primary)
	start := &PgStart{PGData: standby.DataDir, Timeout: Duration(30 * time.Second)}

	out := runStep(t, ctx, start, true)
	if !out.Changed || out.Msg != "would start the server" || isRunning(t, ctx, standby) {
		t.Fatalf("check run: %+v", out)
	}
	out = runStep(t, ctx, start, false)
	want := "started, accepting connections on port " + strconv.Itoa(standby.Port) + " (standby, in recovery)"
	if !out.Changed || out.Msg != want {
		t.Errorf("start: %+v; want msg %q", out, want)
	}
	if v, err := standby.QueryValue(ctx, "postgres", "SELECT pg_is_in_recovery()"); err != nil || v != "t" {
		t.Errorf("standby in recovery = %q, %v", v, err)
	}
	out = runStep(t, ctx, start, false)
	if out.Changed || !strings.HasPrefix(out.Msg, "already running, accepting connections") {
		t.Errorf("second start: %+v", out)
	}

	// A crashed standby (pg_control "in archive recovery") is brought
	// to a clean state on its own timeline and stays a standby.
	crash(t, standby)
	if st := controlState(t, standby.DataDir).State; st != pgcontrol.InArchiveRecovery {
		t.Fatalf("crashed standby's state %v; want in archive recovery", st)
	}
	out = runStep(t, ctx, &PgStop{PGData: standby.DataDir}, false)
	if !out.Changed || !strings.Contains(out.Msg, `crash-recovered in single-user mode (pg_control said "in archive recovery"; now "shut down" on timeline 1)`) {
		t.Errorf("crashed standby: %+v", out)
	}
	if !standby.IsStandby() {
		t.Error("standby.signal not put back")
	}
	if out := runStep(t, ctx, start, false); !out.Changed || !strings.HasSuffix(out.Msg, "(standby, in recovery)") {
		t.Errorf("restart of the recovered standby: %+v", out)
	}

	// The primary is running but not in recovery: a standby start must
	// say so rather than report success.
	_, err := (&PgStart{PGData: primary.DataDir}).Run(ctx, target("postgres", false, false))
	if err == nil || !strings.Contains(err.Error(), "is not in recovery, so it is not a standby") {
		t.Errorf("start on a primary: %v", err)
	}
	no := false
	if out := runStep(t, ctx, &PgStart{PGData: primary.DataDir, Standby: &no}, false); out.Changed {
		t.Errorf("start of a running primary: %+v", out)
	}

	// A server that cannot start: the error carries the log's tail.
	if err := standby.Stop(ctx, pgcluster.StopFast); err != nil {
		t.Fatal(err)
	}
	if err := standby.AppendConf("shared_buffers = 'lots'"); err != nil {
		t.Fatal(err)
	}
	_, err = (&PgStart{PGData: standby.DataDir, Timeout: Duration(10 * time.Second)}).Run(ctx, target("postgres", false, false))
	if err == nil || !strings.Contains(err.Error(), "pg_start "+standby.DataDir+": pg_ctl start") || !strings.Contains(err.Error(), "shared_buffers") {
		t.Errorf("start with a broken configuration: %v", err)
	}
}
