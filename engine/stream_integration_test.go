package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/engine/pgcontrol"
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
// -P, --progress-json, three jobs (stream connections) and compression
// forced (on loopback auto would send raw), checks the report (transfer
// "stream", far fewer bytes on the wire than fetched) and
// that a file linked from outside PGDATA came over SQL, and starts the
// node as a standby of the new primary with the new primary's data.
func TestStreamRewind(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s, savedConf := streamScenario(t)
	// A file behind a link out of PGDATA: rewind-serve refuses it, the
	// engine fetches it over SQL as pg_rewind would.
	outside := filepath.Join(s.TempDir(), "outside.conf")
	must(t, os.WriteFile(outside, []byte("# kept outside PGDATA\n"), 0o600))
	must(t, pgcluster.HandOver(outside))
	must(t, os.Symlink(outside, filepath.Join(s.Standby.DataDir, "outside.conf")))
	srv := startStreamServer(t, s, ours, s.Standby.DataDir)
	report := filepath.Join(s.TempDir(), "report.json")

	res := run(t, s, ours, "-P", "--progress-json", "-R", "--no-sync", "--jobs", "3",
		"--source-server", s.Standby.ConnString(rewindtest.RewindRole), "--target-pgdata", s.Primary.DataDir,
		"--source-stream", srv.addr, "--source-stream-token-file", srv.tokenFile, "--source-stream-compress", "always",
		"--config-file", savedConf, "--report", report)
	for _, want := range []string{"pg_rewind: connected to server\n", "pg_rewind: connected to stream server at " + srv.addr + "\n",
		" kB (100%) copied\n", "pg_rewind: Done!\n"} {
		if !strings.Contains(res.Stderr, want) {
			t.Fatalf("stderr lacks %q\n%s", want, res)
		}
	}
	checkProgressJSON(t, res.Stdout)
	if strings.Contains(res.Stderr, "warning") {
		t.Fatalf("the rewind role can read what the identity check needs; no warning expected\n%s", res)
	}
	rep := readReport(t, report)
	if rep.Transfer != engine.TransferStream || rep.BytesFetched < 20<<20 || rep.BytesTransferred <= 0 || rep.BytesTransferred*3 > rep.BytesFetched {
		t.Fatalf("report: transfer %q, bytes_fetched %d, bytes_transferred %d; want stream, > 20 MiB, under a third",
			rep.Transfer, rep.BytesFetched, rep.BytesTransferred)
	}
	t.Logf("bytes_fetched %d, bytes_transferred %d", rep.BytesFetched, rep.BytesTransferred)
	if got := readFile(t, filepath.Join(s.Primary.DataDir, "outside.conf")); got != "# kept outside PGDATA\n" {
		t.Fatalf("outside.conf in the target: %q", got)
	}

	copyFile(t, savedConf, s.Primary.ConfPath())
	s.StandbySQL("ALTER ROLE " + rewindtest.RewindRole + " WITH REPLICATION")
	must(t, s.Primary.Start(s.Ctx))
	s.StandbySQL("INSERT INTO t VALUES (1002, 'after the rewind')")
	must(t, s.Standby.WaitForCatchup(s.Ctx, s.Primary))
	s.CheckQuery("SELECT count(*), max(id) FROM t", "1002|1002")
	s.CheckQuery("SELECT count(*), sum(g) FROM big", "100000|5000050000")
	s.CheckQuery("SELECT pg_is_in_recovery()", "t")
}

// TestStreamRefused runs rewinds that must fail before they touch the
// target: a wrong token, a missing token file, and stream servers that do
// not serve the running source server (another initdb, the stopped old
// primary, a running replica of the source). Each names what is wrong; the
// target is unchanged and has no marker.
func TestStreamRefused(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s, savedConf := streamScenario(t)
	good := startStreamServer(t, s, ours, s.Standby.DataDir)

	other := rewindtest.NewCluster(t, s.Ctx, pgcluster.Options{Name: "other"})
	replica := rewindtest.NewStandby(t, s.Ctx, s.Standby, pgcluster.Options{Name: "replica"})
	must(t, replica.Start(s.Ctx))
	otherSrv := startStreamServer(t, s, ours, other.DataDir)
	stoppedSrv := startStreamServer(t, s, ours, s.Primary.DataDir)
	replicaSrv := startStreamServer(t, s, ours, replica.DataDir)

	wrongToken := filepath.Join(s.TempDir(), "wrong-token")
	must(t, os.WriteFile(wrongToken, []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
	must(t, pgcluster.HandOver(wrongToken))
	sysid := func(dir string) string {
		cf, err := pgcontrol.Read(filepath.Join(dir, "global", "pg_control"))
		must(t, err)
		return strconv.FormatUint(cf.SystemIdentifier, 10)
	}
	cases := []struct {
		name       string
		addr, file string
		want       []string
	}{
		{"wrong token", good.addr, wrongToken, []string{"pg_rewind: error: stream server at " + good.addr + " refused the token\n"}},
		{"missing token file", good.addr, filepath.Join(s.TempDir(), "nothing"),
			[]string{"pg_rewind: error: read stream token file: open ", "no such file or directory\n"}},
		{"another cluster", otherSrv.addr, otherSrv.tokenFile, []string{
			"pg_rewind: error: stream server at " + otherSrv.addr + " (PGDATA " + other.DataDir + ") does not serve the server --source-server reaches: system identifier " +
				sysid(other.DataDir) + " there, " + sysid(s.Standby.DataDir) + " over SQL\n",
			"pg_rewind: detail: --source-stream must reach the same server as --source-server \"host="}},
		{"the stopped old primary", stoppedSrv.addr, stoppedSrv.tokenFile, []string{
			"(PGDATA " + s.Primary.DataDir + ") does not serve the server --source-server reaches: its PGDATA has no postmaster.pid"}},
		// The replica started a few seconds after the source: either
		// field tells them apart, the start time is checked first.
		{"a replica of the source", replicaSrv.addr, replicaSrv.tokenFile, []string{
			"(PGDATA " + replica.DataDir + ") does not serve the server --source-server reaches: ",
			"|postmaster started at ", fmt.Sprintf("|port %d there (postmaster.pid), %d over SQL (SHOW port)\n", replica.Port, s.Standby.Port)}},
		// A role that may not read the start time still gets the
		// other checks, and is told what was skipped.
		{"start time unreadable", replicaSrv.addr, replicaSrv.tokenFile, []string{
			"pg_rewind: warning: could not read pg_postmaster_start_time() on the source server: ERROR: permission denied for function pg_postmaster_start_time",
			fmt.Sprintf("does not serve the server --source-server reaches: port %d there (postmaster.pid), %d over SQL (SHOW port)\n", replica.Port, s.Standby.Port)}},
	}
	before, err := rewindtest.SnapshotTree(s.Primary.DataDir)
	must(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "start time unreadable" {
				s.StandbySQL("REVOKE EXECUTE ON FUNCTION pg_catalog.pg_postmaster_start_time() FROM PUBLIC")
				defer s.StandbySQL("GRANT EXECUTE ON FUNCTION pg_catalog.pg_postmaster_start_time() TO PUBLIC")
			}
			res, err := ours.Run(s.Ctx, "--no-sync", "--source-server", s.Standby.ConnString(rewindtest.RewindRole),
				"--target-pgdata", s.Primary.DataDir, "--config-file", savedConf,
				"--source-stream", tc.addr, "--source-stream-token-file", tc.file)
			must(t, err)
			if res.ExitCode != 1 {
				t.Fatalf("exit code %d, want 1\n%s", res.ExitCode, res)
			}
			// Wants starting with "|" are alternatives: one must be
			// there.
			var alts []string
			for _, w := range tc.want {
				if a, ok := strings.CutPrefix(w, "|"); ok {
					alts = append(alts, a)
				} else if !strings.Contains(res.Stderr, w) {
					t.Fatalf("stderr lacks %q\n%s", w, res)
				}
			}
			if len(alts) > 0 && !slices.ContainsFunc(alts, func(a string) bool { return strings.Contains(res.Stderr, a) }) {
				t.Fatalf("stderr has none of %q\n%s", alts, res)
			}
			if strings.Contains(res.Stderr, strings.TrimSpace(readFile(t, good.tokenFile))) {
				t.Fatalf("the token leaked into the output\n%s", res)
			}
			after, err := rewindtest.SnapshotTree(s.Primary.DataDir)
			must(t, err)
			if d := before.Diff(after); len(d) > 0 {
				t.Fatalf("the refused rewind changed the target:\n%s", strings.Join(d, "\n"))
			}
			if m, err := engine.ReadMarker(s.Primary.DataDir); err != nil || m != nil {
				t.Fatalf("marker after a refused rewind: %+v, %v", m, err)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	return string(b)
}

// TestStreamConnectionReset cuts the stream mid-copy (toxiproxy between the
// engine and rewind-serve, slowed so the copy lasts, then reset_peer):
// the engine fails naming the stream and the file, the node is fenced,
// and a rerun straight to the same server resumes and completes; the node
// then follows the new primary with its data.
func TestStreamConnectionReset(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s, savedConf := streamScenario(t)
	srv := startStreamServer(t, s, ours, s.Standby.DataDir)
	_, port, err := net.SplitHostPort(srv.addr)
	must(t, err)
	n, err := strconv.Atoi(port)
	must(t, err)
	proxy := startProxy(t, n)
	_, err = proxy.Toxics.AddToxicJson(strings.NewReader(`{"name":"slow","type":"bandwidth","stream":"downstream","attributes":{"rate":128}}`))
	must(t, err)
	proxied := fmt.Sprintf("127.0.0.1:%d", proxyPort(t, proxy))

	args := []string{"--no-sync", "--progress-json", "--source-server", s.Standby.ConnString(rewindtest.RewindRole),
		"--target-pgdata", s.Primary.DataDir, "--config-file", savedConf, "--source-stream-token-file", srv.tokenFile}
	stderr := interruptCopy(t, s, ours, func() {
		_, err := proxy.Toxics.AddToxicJson(strings.NewReader(`{"name":"reset","type":"reset_peer","stream":"downstream","attributes":{"timeout":0}}`))
		must(t, err)
	}, append(args, "--source-stream", proxied)...)
	if !strings.Contains(stderr, "pg_rewind: error: stream from "+proxied+" lost while fetching \"") {
		t.Fatalf("the error should name the stream and the file:\n%s", stderr)
	}
	assertFenced(t, s, savedConf)

	res := run(t, s, ours, append(args, "--source-stream", srv.addr)...)
	if !strings.Contains(res.Stderr, "resuming an interrupted rewind started at") {
		t.Fatalf("the rerun should say it resumes an interrupted rewind\n%s", res)
	}
	copyFile(t, savedConf, s.Primary.ConfPath())
	must(t, s.Primary.FollowNew(s.Ctx, s.Standby))
	must(t, s.Primary.Start(s.Ctx))
	s.StandbySQL("INSERT INTO t VALUES (1002, 'after the rewind')")
	must(t, s.Standby.WaitForCatchup(s.Ctx, s.Primary))
	s.CheckQuery("SELECT count(*), max(id) FROM t", "1002|1002")
	s.CheckQuery("SELECT count(*), sum(g) FROM big", "100000|5000050000")
	s.CheckQuery("SELECT pg_is_in_recovery()", "t")
}

// interruptCopy runs the engine, calls interrupt once a --progress-json
// line shows bytes copied, and requires the engine to fail with exit code
// 1; it returns the engine's stderr.
func interruptCopy(t *testing.T, s *rewindtest.Scenario, r rewindtest.Rewinder, interrupt func(), args ...string) string {
	t.Helper()
	cmd, err := r.Command(s.Ctx, args...)
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	sc := bufio.NewScanner(out)
	interrupted := false
	for sc.Scan() {
		if !interrupted && copying(sc.Text(), "") {
			interrupt()
			interrupted = true
		}
	}
	err = cmd.Wait()
	if !interrupted {
		t.Fatalf("the copy ended before it could be interrupted (%v)\n%s", err, stderr.String())
	}
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("the interrupted engine should exit with 1: %v\n%s", err, stderr.String())
	}
	return stderr.String()
}

// TestStreamTablespace rewinds through the stream a node with relations in
// a tablespace (each node keeps it at its own path): rewind-serve reads the
// source's files through its pg_tblspc link, and the rewound node, a
// standby of the new primary, has the new primary's rows.
func TestStreamTablespace(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	ours := engineRewinder(t)
	s := rewindtest.NewScenario(t, pgcluster.Options{})
	location := filepath.Join(s.TempDir(), "ts_primary")
	must(t, os.Mkdir(location, 0o700))
	must(t, pgcluster.HandOver(location))
	s.StartPrimary()
	s.PrimarySQL("CREATE TABLESPACE ts LOCATION '" + location + "'")
	s.PrimarySQL("CREATE TABLE ts_tbl (d text) TABLESPACE ts")
	s.PrimarySQL("INSERT INTO ts_tbl VALUES ('in primary')")
	s.CreateStandby(pgcluster.Options{})
	s.PromoteStandby()
	s.PrimarySQL("INSERT INTO ts_tbl SELECT 'lost ' || g FROM generate_series(1, 2000) g")
	s.StandbySQL("INSERT INTO ts_tbl VALUES ('in standby, after promotion')")
	s.StandbySQL("CREATE TABLE ts_standby_only TABLESPACE ts AS SELECT g FROM generate_series(1, 50000) g")
	s.StandbySQL("CHECKPOINT")
	must(t, s.Primary.Stop(s.Ctx, pgcluster.StopFast))
	savedConf := filepath.Join(s.TempDir(), "postgresql.conf")
	copyFile(t, s.Primary.ConfPath(), savedConf)
	srv := startStreamServer(t, s, ours, s.Standby.DataDir)
	report := filepath.Join(s.TempDir(), "report.json")

	res := run(t, s, ours, "-R", "--no-sync", "--debug", "--source-server", s.Standby.ConnString(rewindtest.RewindRole),
		"--target-pgdata", s.Primary.DataDir, "--config-file", savedConf, "--report", report,
		"--source-stream", srv.addr, "--source-stream-token-file", srv.tokenFile)
	// Through the stream, not the SQL fallback for refused links.
	if !strings.Contains(res.Stderr, "pg_rewind: received chunk for file \"pg_tblspc/") || strings.Contains(res.Stderr, "another way") {
		t.Fatalf("the tablespace's files should come over the stream\n%s", res)
	}
	if rep := readReport(t, report); rep.Transfer != engine.TransferStream || rep.BytesTransferred <= 0 {
		t.Fatalf("report: transfer %q, bytes_transferred %d", rep.Transfer, rep.BytesTransferred)
	}
	copyFile(t, savedConf, s.Primary.ConfPath())
	s.StandbySQL("ALTER ROLE " + rewindtest.RewindRole + " WITH REPLICATION")
	must(t, s.Primary.Start(s.Ctx))
	must(t, s.Standby.WaitForCatchup(s.Ctx, s.Primary))
	s.CheckQuery("SELECT * FROM ts_tbl", "in primary", "in standby, after promotion")
	s.CheckQuery("SELECT count(*), sum(g) FROM ts_standby_only", "50000|1250025000")
	s.CheckQuery("SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'ts'", location)
}
