package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestInterruptedRewind interrupts a rewind against a running source four
// ways: SIGKILL while it copies (seen on --progress-json), SIGKILL just
// before it writes pg_control (the test-only pause), the source connection
// reset by a toxiproxy reset_peer toxic mid-copy, and the source restarted
// mid-copy. Each time the marker stays next to PGDATA, pg_control is
// fenced (its backup inverted), PostgreSQL itself refuses to start the
// data directory, a rerun without the scan record refuses, a rerun says it
// resumes from the record and completes, and the node then follows the new
// primary with its data.
func TestInterruptedRewind(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	cases := []struct {
		name string
		// env is added to the engine's environment; wait reads each
		// line of the engine's stdout and stderr and says when to kill
		// it.
		env  []string
		wait func(stdoutLine, stderrLine string) bool
		// interrupt does the harm; killed says it was SIGKILL (else
		// the engine must fail with exit code 1).
		interrupt func(t *testing.T, s *rewindtest.Scenario, p *toxiproxy.Proxy, proc *os.Process)
		killed    bool
	}{
		{"sigkill during the fetch", nil, copying, sigkill, true},
		{"sigkill before pg_control is written", []string{engine.PauseEnv + "=control"}, func(_, line string) bool {
			return strings.Contains(line, "test pause before control")
		}, sigkill, true},
		{"source connection reset", nil, copying, func(t *testing.T, _ *rewindtest.Scenario, p *toxiproxy.Proxy, _ *os.Process) {
			_, err := p.Toxics.AddToxicJson(strings.NewReader(`{"name":"reset","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`))
			must(t, err)
		}, false},
		{"source restarted", nil, copying, func(t *testing.T, s *rewindtest.Scenario, _ *toxiproxy.Proxy, _ *os.Process) {
			must(t, s.Standby.Restart(s.Ctx))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := rewindtest.NewScenario(t, pgcluster.Options{})
			ctx := s.Ctx
			s.StartPrimary()
			s.PrimarySQL("CREATE TABLE t (id int)")
			s.PrimarySQL("INSERT INTO t SELECT generate_series(1, 1000)")
			s.CreateStandby(pgcluster.Options{})
			s.PromoteStandby()
			// Enough for the copy to last a few progress lines.
			s.StandbySQL("CREATE TABLE big AS SELECT g, repeat('x', 300) AS pad FROM generate_series(1, 500000) g")
			s.StandbySQL("CHECKPOINT")
			s.PrimarySQL("INSERT INTO t SELECT generate_series(1001, 5000)")
			must(t, s.Primary.Stop(ctx, pgcluster.StopFast))

			savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
			copyFile(t, s.Primary.ConfPath(), savedConf)
			args := []string{"--no-sync", "--progress-json", "--jobs", "1",
				"--target-pgdata", s.Primary.DataDir, "--config-file", savedConf}
			// The interrupted run reaches the source through toxiproxy;
			// the rerun directly.
			proxy := startProxy(t, s.Standby.Port)
			first := append([]string{"--source-server", fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres", proxyPort(t, proxy), rewindtest.RewindRole)}, args...)
			args = append([]string{"--source-server", s.Standby.ConnString(rewindtest.RewindRole)}, args...)

			interruptWhen(t, ctx, ours, tc.env, tc.wait, func(proc *os.Process) { tc.interrupt(t, s, proxy, proc) }, tc.killed, first...)
			assertFenced(t, s, savedConf)

			// The interrupted rewind may have overwritten the target's
			// WAL: without its scan record a rerun refuses, and changes
			// nothing.
			record := engine.ScanRecordPath(s.Primary.DataDir)
			aside := filepath.Join(s.TempDir(), "scan-record")
			must(t, os.Rename(record, aside))
			if res, err := ours.Run(ctx, args...); err != nil || res.ExitCode != 1 ||
				!strings.Contains(res.Stderr, "its scan record "+record+" is missing") {
				t.Fatalf("a rerun without the scan record should refuse and name it: %v\n%s", err, res)
			}
			tool := rewindtest.Rewinder{Path: filepath.Join(filepath.Dir(ours.Path), "pgrunbook")}
			stage := []string{"wal-stage", "--check-only", "-D", s.Primary.DataDir, "--source-server", s.Standby.ConnString(rewindtest.RewindRole)}
			if res, err := tool.Run(ctx, stage...); err != nil || res.ExitCode != 1 || !strings.Contains(res.Stderr, record) {
				t.Fatalf("wal-stage without the scan record should fail and name it: %v\n%s", err, res)
			}
			assertFenced(t, s, savedConf)
			must(t, os.Rename(aside, record))
			// With it, wal-stage has nothing to stage: the rerun reads
			// the record, not the target's WAL.
			if res, err := tool.Run(ctx, stage...); err != nil || res.ExitCode != 0 || !strings.Contains(res.Stderr, "nothing to stage") {
				t.Fatalf("wal-stage after the interruption should say there is nothing to stage: %v\n%s", err, res)
			}

			// A dry run reads the record too, and changes nothing.
			if res, err := ours.Run(ctx, append([]string{"--dry-run"}, args...)...); err != nil || res.ExitCode != 0 ||
				!strings.Contains(res.Stderr, "using the scan record of the interrupted rewind") {
				t.Fatalf("a dry run after the interruption should use the scan record: %v\n%s", err, res)
			}
			assertFenced(t, s, savedConf)

			// A rerun that fails before it changes anything (the source
			// unreachable) leaves the node fenced.
			unreachable := append([]string{"--source-server", "host=127.0.0.1 port=1 user=" + rewindtest.RewindRole + " dbname=postgres"}, args[2:]...)
			if res, err := ours.Run(ctx, unreachable...); err != nil || res.ExitCode != 1 ||
				!strings.Contains(res.Stderr, "resuming an interrupted rewind started at") {
				t.Fatalf("a rerun against an unreachable source should resume, then fail: %v\n%s", err, res)
			}
			assertFenced(t, s, savedConf)

			res := run(t, s, ours, args...)
			for _, want := range []string{"resuming an interrupted rewind started at", "using the scan record of the interrupted rewind"} {
				if !strings.Contains(res.Stderr, want) {
					t.Fatalf("the rerun should say %q\n%s", want, res)
				}
			}
			if _, err := os.Stat(record); !os.IsNotExist(err) {
				t.Fatalf("the scan record should be gone after the rerun: %v", err)
			}
			if m, err := engine.ReadMarker(s.Primary.DataDir); err != nil || m != nil {
				t.Fatalf("the marker should be gone after the rerun: %+v, %v", m, err)
			}
			for _, rel := range []string{engine.ControlBackupPath, "standby.signal"} {
				if _, err := os.Stat(filepath.Join(s.Primary.DataDir, rel)); !os.IsNotExist(err) {
					t.Fatalf("%s should be gone after the rerun: %v", rel, err)
				}
			}
			copyFile(t, savedConf, s.Primary.ConfPath())
			must(t, s.Primary.FollowNew(ctx, s.Standby))
			must(t, s.Primary.Start(ctx))
			s.StandbySQL("INSERT INTO t VALUES (-1)")
			must(t, s.Standby.WaitForCatchup(ctx, s.Primary))
			s.CheckQuery("SELECT count(*) FROM t", "1001")
			s.CheckQuery("SELECT count(*), sum(g) FROM big", "500000|125000250000")
			s.CheckQuery("SELECT pg_is_in_recovery()", "t")
		})
	}
}

// copying is true of a --progress-json line once bytes are being copied.
func copying(stdoutLine, _ string) bool {
	return strings.Contains(stdoutLine, `"phase":"copying"`) && !strings.Contains(stdoutLine, `"done":0,`)
}

// sigkill kills the engine.
func sigkill(t *testing.T, _ *rewindtest.Scenario, _ *toxiproxy.Proxy, proc *os.Process) {
	must(t, proc.Signal(syscall.SIGKILL))
}

// startProxy runs an in-process toxiproxy from a free loopback port to the
// given local port.
func startProxy(t *testing.T, upstreamPort int) *toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "source", "127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", upstreamPort))
	must(t, p.Start())
	t.Cleanup(p.Stop)
	return p
}

// proxyPort is the port the proxy listens on.
func proxyPort(t *testing.T, p *toxiproxy.Proxy) int {
	t.Helper()
	_, port, err := net.SplitHostPort(p.Listen)
	must(t, err)
	n, err := strconv.Atoi(port)
	must(t, err)
	return n
}

// interruptWhen runs the engine and interrupts it as soon as wait is true
// of a line of its output; it fails the test if the engine ended by
// itself, or did not die as expected (SIGKILL, or else exit code 1).
func interruptWhen(t *testing.T, ctx context.Context, r rewindtest.Rewinder, env []string, wait func(stdout, stderr string) bool, interrupt func(*os.Process), killed bool, args ...string) {
	t.Helper()
	cmd, err := r.Command(ctx, args...)
	must(t, err)
	cmd.Env = append(cmd.Env, env...)
	outPipe, err := cmd.StdoutPipe()
	must(t, err)
	errPipe, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	lines := make(chan [2]string, 64)
	scan := func(rd interface{ Read([]byte) (int, error) }, which int) {
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			var l [2]string
			l[which] = sc.Text()
			lines <- l
		}
	}
	go scan(outPipe, 0)
	go scan(errPipe, 1)
	var stdout, stderr strings.Builder
	deadline := time.After(2 * time.Minute)
	for reached := false; !reached; {
		select {
		case l := <-lines:
			stdout.WriteString(l[0] + "\n")
			stderr.WriteString(l[1] + "\n")
			reached = wait(l[0], l[1])
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("the engine never reached the kill point\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}
	interrupt(cmd.Process)
	go func() {
		for range lines {
		}
	}()
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || ws.Signaled() != killed || (!killed && ws.ExitStatus() != 1) {
		t.Fatalf("the engine should have died (killed: %v), got %v\nstdout:\n%s\nstderr:\n%s", killed, err, stdout.String(), stderr.String())
	}
}

// assertFenced checks what an interrupted rewind leaves: the marker, a
// pg_control that is the inverted backup, and a server that refuses to
// start.
func assertFenced(t *testing.T, s *rewindtest.Scenario, conf string) {
	t.Helper()
	m, err := engine.ReadMarker(s.Primary.DataDir)
	if err != nil || m == nil {
		t.Fatalf("no marker %s after the interrupted rewind: %v", engine.MarkerPath(s.Primary.DataDir), err)
	}
	if m.PGData != s.Primary.DataDir || m.Phase != engine.MarkerPhaseCopy || m.Started.IsZero() || strings.Contains(m.Source, "password="+rewindtest.RewindRole) {
		t.Fatalf("marker %+v", m)
	}
	assertControlFenced(t, s.Primary.DataDir)
	logFile := filepath.Join(s.TempDir(), "refused.log")
	cmd, err := pgcluster.Command(s.Ctx, filepath.Join(pgcluster.DefaultBinDir, "pg_ctl"),
		"start", "-w", "-t", "20", "-D", s.Primary.DataDir, "-l", logFile, "-o", "-c config_file="+conf)
	must(t, err)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("pg_ctl start of a half-rewound node succeeded:\n%s", out)
	}
	log, _ := os.ReadFile(logFile)
	if !strings.Contains(string(log), "incorrect checksum in control file") {
		t.Fatalf("the server should refuse the fenced pg_control; log:\n%s\npg_ctl:\n%s", log, out)
	}
}

// assertControlFenced checks that an interrupted rewind left pg_control
// fenced: its backup with the system identifier inverted.
func assertControlFenced(t *testing.T, pgdata string) {
	t.Helper()
	backup, err := os.ReadFile(filepath.Join(pgdata, engine.ControlBackupPath))
	must(t, err)
	cur, err := os.ReadFile(filepath.Join(pgdata, "global", "pg_control"))
	must(t, err)
	for i := range 8 {
		cur[i] ^= 0xff
	}
	if !bytes.Equal(cur, backup) {
		t.Fatal("pg_control should be the fenced (inverted) image of its backup")
	}
}
