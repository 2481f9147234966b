package steps

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/runbook"
)

// TestRewindStallIntegration hangs the new primary under a running rewind:
// as soon as the engine starts copying, every backend serving the rewind
// role is stopped with SIGSTOP. The step must stop the engine after
// stall_timeout, fail naming the stall and how far it got, and leave no
// engine process behind; the node then refuses to start.
func TestRewindStallIntegration(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the stall test runs PostgreSQL clusters as postgres and needs root; skipping")
	}
	s := failedOver(t)
	ctx := s.Ctx
	// Enough for the copy to outlast a socket buffer: the engine has to
	// come back to the stopped backend for more.
	s.StandbySQL("CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 150000) g")
	s.StandbySQL("CHECKPOINT")
	s.PrimarySQL("CREATE TABLE t2 AS SELECT 1 AS id")
	stop(t, ctx, s.Primary)

	var mu sync.Mutex
	var stopped []int
	resume := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, pid := range stopped {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		stopped = nil
	}
	t.Cleanup(resume)
	hang := func(p runbook.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Phase != "copying" || stopped != nil {
			return
		}
		v, err := s.Standby.QueryValue(ctx, "postgres", "SELECT coalesce(string_agg(pid::text, ' '), '') FROM pg_stat_activity WHERE usename = "+
			quoteLiteral(rewindtest.RewindRole))
		if err != nil {
			t.Errorf("find the rewind's backends: %v", err)
			return
		}
		for _, f := range strings.Fields(v) {
			pid, _ := strconv.Atoi(f)
			if err := syscall.Kill(pid, syscall.SIGSTOP); err == nil {
				stopped = append(stopped, pid)
			}
		}
		if len(stopped) == 0 {
			t.Errorf("no backend of %s to stop while copying", rewindtest.RewindRole)
		}
	}
	tg := target("postgres", false, false)
	tg.Host = &runbook.Host{Name: "pg1", Vars: map[string]any{"remote_dir": remoteDirFor(t)}}
	tg.Progress = hang
	rewind := &Rewind{PGData: s.Primary.DataDir, SourceServer: s.Standby.ConnString(rewindtest.RewindRole),
		EngineBinary: builtEngine(t), StallTimeout: Duration(10 * time.Second), Timeout: Duration(2 * time.Minute)}

	started := time.Now()
	_, err := rewind.Run(ctx, tg)
	took := time.Since(started)
	if err == nil {
		t.Fatal("the rewind finished against a hung source")
	}
	for _, want := range []string{"rewind stalled: no progress for 10s at phase copying (", " bytes); the process was stopped", "rerun the playbook"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if took > time.Minute {
		t.Errorf("the stall was noticed after %s; stall_timeout is 3s", took)
	}
	// The transport's watchdog takes a moment to reap the group.
	deadline := time.Now().Add(10 * time.Second)
	for pids := engineProcesses(t, s.Primary.DataDir); len(pids) > 0; pids = engineProcesses(t, s.Primary.DataDir) {
		if time.Now().After(deadline) {
			t.Fatalf("engine processes left running on %s 10s after the stall: %v", s.Primary.DataDir, pids)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The node keeps its interrupted state: it refuses to start.
	if _, err := (&PgStart{PGData: s.Primary.DataDir, Timeout: Duration(30 * time.Second)}).Run(ctx, target("postgres", false, false)); err == nil ||
		!strings.Contains(err.Error(), "refusing to start: a rewind") {
		t.Errorf("pg_start after the stall: %v; want a refusal naming the interrupted rewind", err)
	}
	if running, err := s.Primary.Running(ctx); err != nil || running {
		t.Errorf("the stalled node runs (%v, %v)", running, err)
	}

	// The rerun, with the source answering again, completes the rewind.
	resume()
	tg.Progress = nil
	if _, err := rewind.Run(ctx, tg); err != nil {
		t.Fatalf("rerun after the stall: %v", err)
	}
	if m, err := engine.ReadMarker(s.Primary.DataDir); err != nil || m != nil {
		t.Errorf("rewind marker after the rerun: %+v, %v; want none", m, err)
	}
}

// engineProcesses lists the shipped engine's processes (pgrunbook-<sha>)
// whose command line mentions pgdata.
func engineProcesses(t *testing.T, pgdata string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	must(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		argv := strings.Split(string(b), "\x00")
		if err == nil && strings.HasPrefix(filepath.Base(argv[0]), "pgrunbook-") && strings.Contains(string(b), pgdata) {
			pids = append(pids, pid)
		}
	}
	return pids
}
