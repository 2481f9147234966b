package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// TestInterruptedRewind kills the engine with SIGKILL at two points of a
// rewind against a running source: while it copies (seen on
// --progress-json) and just before it writes pg_control (the test-only
// pause). Each time the marker stays next to PGDATA, pg_control is fenced
// (its backup inverted), PostgreSQL itself refuses to start the data
// directory, a rerun says it resumes and completes, and the node then
// follows the new primary with its data.
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
	}{
		{"sigkill during the fetch", nil, func(line, _ string) bool {
			return strings.Contains(line, `"phase":"copying"`) && !strings.Contains(line, `"done":0,`)
		}},
		{"sigkill before pg_control is written", []string{engine.PauseEnv + "=control"}, func(_, line string) bool {
			return strings.Contains(line, "test pause before control")
		}},
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
				"--source-server", s.Standby.ConnString(rewindtest.RewindRole),
				"--target-pgdata", s.Primary.DataDir, "--config-file", savedConf}

			killWhen(t, ctx, ours, tc.env, tc.wait, args...)
			assertFenced(t, s, savedConf)

			res := run(t, s, ours, args...)
			if !strings.Contains(res.Stderr, "resuming an interrupted rewind started at") {
				t.Fatalf("the rerun should say it resumes an interrupted rewind\n%s", res)
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

// killWhen runs the engine and SIGKILLs it as soon as wait is true of its
// output so far; it fails the test if the engine ended by itself.
func killWhen(t *testing.T, ctx context.Context, r rewindtest.Rewinder, env []string, wait func(stdout, stderr string) bool, args ...string) {
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
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	go func() {
		for range lines {
		}
	}()
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("the engine should have died of SIGKILL, got %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
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
