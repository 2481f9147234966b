package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/rewindtest"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// streamServer is a `pgrunbook rewind-serve` started by a test.
type streamServer struct {
	addr      string
	tokenFile string
	cmd       *exec.Cmd
	stderr    *strings.Builder
}

// startStreamServer runs rewind-serve as postgres on dataDir, reads its
// ready line and writes the token to a file postgres owns. At cleanup it
// stops the server with SIGTERM and requires exit code 0.
func startStreamServer(t *testing.T, s *rewindtest.Scenario, ours rewindtest.Rewinder, dataDir string, extra ...string) *streamServer {
	t.Helper()
	bin := filepath.Join(filepath.Dir(ours.Path), "pgrunbook")
	// Not the scenario's context: it ends before the cleanup that
	// checks the server stops by SIGTERM with exit code 0.
	cmd, err := pgcluster.Command(context.Background(), bin, append([]string{"rewind-serve", "-D", dataDir}, extra...)...)
	must(t, err)
	out, err := cmd.StdoutPipe()
	must(t, err)
	srv := &streamServer{cmd: cmd, stderr: &strings.Builder{}}
	cmd.Stderr = srv.stderr
	must(t, cmd.Start())
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("rewind-serve printed no ready line: %v\n%s", sc.Err(), srv.stderr)
	}
	line := sc.Text()
	var ready struct{ Listen, Token string }
	if err := json.Unmarshal([]byte(line), &ready); err != nil || len(ready.Token) != 64 || ready.Listen == "" {
		cmd.Process.Kill()
		t.Fatalf("ready line %q: %v", line, err)
	}
	if strings.ToLower(ready.Token) != ready.Token {
		t.Fatalf("token %q is not lowercase hex", ready.Token)
	}
	srv.addr = ready.Listen
	srv.tokenFile = filepath.Join(s.TempDir(), "stream-token")
	must(t, os.WriteFile(srv.tokenFile, []byte(ready.Token+"\n"), 0o600))
	must(t, pgcluster.HandOver(srv.tokenFile))
	rest := make(chan string, 1)
	go func() {
		var more strings.Builder
		for sc.Scan() {
			more.WriteString(sc.Text() + "\n")
		}
		rest <- more.String()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			srv.wait(t)
		}
		if more := <-rest; more != "" {
			t.Errorf("rewind-serve printed more than its ready line on stdout:\n%s", more)
		}
	})
	return srv
}

// wait waits for the server to exit and requires exit code 0.
func (srv *streamServer) wait(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("rewind-serve ended with %v\n%s", err, srv.stderr)
		}
	case <-time.After(30 * time.Second):
		srv.cmd.Process.Kill()
		t.Errorf("rewind-serve did not stop\n%s", srv.stderr)
	}
}

// streamScenario is a diverged pair: the old primary stopped, the promoted
// standby running with a table big enough that the copy shows compression.
func streamScenario(t *testing.T) (*rewindtest.Scenario, string) {
	t.Helper()
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLE t (id int, d text)")
	s.PrimarySQL("INSERT INTO t SELECT g, 'common ' || g FROM generate_series(1, 1000) g")
	s.CreateStandby(pgcluster.Options{})
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO t SELECT g, 'lost ' || g FROM generate_series(1001, 20000) g")
	s.StandbySQL("CREATE TABLE big AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 100000) g")
	s.StandbySQL("INSERT INTO t VALUES (1001, 'new primary')")
	s.StandbySQL("CHECKPOINT")
	must(t, s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	return s, savedConf
}

// readReport reads a --report file.
func readReport(t *testing.T, path string) engine.Report {
	t.Helper()
	var rep engine.Report
	b, err := os.ReadFile(path)
	must(t, err)
	must(t, json.Unmarshal(b, &rep))
	return rep
}

// TestStreamRewind rewinds through rewind-serve and --source-stream with
// -P and --progress-json, checks the report (transfer "stream", far fewer
// bytes on the wire than fetched), and starts the node as a standby of
// the new primary with the new primary's data.
func TestStreamRewind(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s, savedConf := streamScenario(t)
	srv := startStreamServer(t, s, ours, s.Standby.DataDir)
	report := filepath.Join(s.TempDir(), "report.json")

	res := run(t, s, ours, "-P", "--progress-json", "-R", "--no-sync",
		"--source-server", s.Standby.ConnString(rewindtest.RewindRole), "--target-pgdata", s.Primary.DataDir,
		"--source-stream", srv.addr, "--source-stream-token-file", srv.tokenFile,
		"--config-file", savedConf, "--report", report)
	for _, want := range []string{"pg_rewind: connected to server\n", "pg_rewind: connected to stream server at " + srv.addr + "\n",
		" kB (100%) copied\n", "pg_rewind: Done!\n"} {
		if !strings.Contains(res.Stderr, want) {
			t.Fatalf("stderr lacks %q\n%s", want, res)
		}
	}
	checkProgressJSON(t, res.Stdout)
	rep := readReport(t, report)
	if rep.Transfer != engine.TransferStream || rep.BytesFetched < 20<<20 || rep.BytesTransferred <= 0 || rep.BytesTransferred*3 > rep.BytesFetched {
		t.Fatalf("report: transfer %q, bytes_fetched %d, bytes_transferred %d; want stream, > 20 MiB, under a third",
			rep.Transfer, rep.BytesFetched, rep.BytesTransferred)
	}
	t.Logf("bytes_fetched %d, bytes_transferred %d", rep.BytesFetched, rep.BytesTransferred)

	copyFile(t, savedConf, s.Primary.ConfPath())
	s.StandbySQL("ALTER ROLE " + rewindtest.RewindRole + " WITH REPLICATION")
	must(t, s.Primary.Start(s.Ctx))
	s.StandbySQL("INSERT INTO t VALUES (1002, 'after the rewind')")
	must(t, s.Standby.WaitForCatchup(s.Ctx, s.Primary))
	s.CheckQuery("SELECT count(*), max(id) FROM t", "1002|1002")
	s.CheckQuery("SELECT count(*), sum(g) FROM big", "100000|5000050000")
	s.CheckQuery("SELECT pg_is_in_recovery()", "t")
}
