package steps

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// streamPlaybook rewinds the lab's old primary pg1 with source_host set
// to its new primary, then makes it a standby and verifies it, through the
// real executor: inventory, connection pool, Target.Peer and SSH.
const streamPlaybook = `name: rewind from the new primary's stream
hosts: pg1
become: postgres
vars:
  new_primary_address: "{{ (index .hostvars .new_primary).address }}"
  source: "host={{ .new_primary_address }} port={{ .pg_port }} user={{ .rewind_user }} dbname=postgres passfile={{ .passfile }}"
steps:
  - name: stage
    wal_stage: {pgdata: "{{ .pgdata }}", archive_dir: "{{ .archive_dir }}", source_server: "{{ .source }}", engine_binary: "{{ .engine_binary }}"}
  - name: rewind
    rewind:
      pgdata: "{{ .pgdata }}"
      source_server: "{{ .source }}"
      source_host: "{{ .new_primary }}"
      bin_dir: "{{ .bin_dir }}"
      report_dir: "{{ .report_dir }}"
      engine_binary: "{{ .engine_binary }}"
  - name: standby
    recovery:
      pgdata: "{{ .pgdata }}"
      primary_conninfo: "host={{ .new_primary_address }} port={{ .pg_port }} user={{ .rewind_user }} passfile={{ .passfile }} application_name=pg1"
  - name: start
    pg_start: {pgdata: "{{ .pgdata }}", bin_dir: "{{ .bin_dir }}", timeout: 60s}
  - name: verify
    verify:
      pgdata: "{{ .pgdata }}"
      primary: "{{ .source }}"
      timeout: 60s
      split_brain: [{kind: table, name: stream_lost}]
`

// streamLab is a two-host lab (behind a bastion, if asked) after a split brain: pg2 promoted and
// given a few MB of compressible rows, pg1 with writes of its own
// (table stream_lost), stopped.
func streamLab(t *testing.T, ctx context.Context, bastion bool) *testenv.Lab {
	t.Helper()
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Bastion: bastion, Postgres: true})
	c1, c2 := lab.PGCluster("pg1"), lab.PGCluster("pg2")
	must(t, c1.Exec(ctx, "postgres", "CREATE TABLE stream_seed AS SELECT g AS id FROM generate_series(1, 1000) g"))
	at, err := c1.CurrentLSN(ctx)
	must(t, err)
	must(t, c2.WaitReplay(ctx, at))
	must(t, c2.Promote(ctx))
	must(t, c2.Checkpoint(ctx))
	must(t, c2.Exec(ctx, "postgres", "CREATE TABLE big AS SELECT g AS id, repeat('row ' || (g % 97), 40) AS pad FROM generate_series(1, 40000) g"))
	must(t, c2.Checkpoint(ctx))
	must(t, c1.Exec(ctx, "postgres", "CREATE TABLE stream_lost AS SELECT g AS id FROM generate_series(1, 5000) g"))
	must(t, c1.Stop(ctx, pgcluster.StopFast))
	return lab
}

// runStreamPlaybook runs streamPlaybook on lab and returns its recap,
// its events, the directory of its reports and what the rewind's engine
// looked like while it copied.
func runStreamPlaybook(t *testing.T, ctx context.Context, lab *testenv.Lab) (runbook.Recap, []runbook.Event, string, *engineSeen) {
	t.Helper()
	return runStreamPlaybookWatching(t, ctx, lab, false, nil)
}

// runStreamPlaybookWatching is runStreamPlaybook, under --check if
// asked, with watch called on every event as it happens.
func runStreamPlaybookWatching(t *testing.T, ctx context.Context, lab *testenv.Lab, check bool, watch func(runbook.Event)) (runbook.Recap, []runbook.Event, string, *engineSeen) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "stream.yml")
	must(t, os.WriteFile(path, []byte(streamPlaybook), 0o644))
	pb, err := runbook.LoadPlaybook(path, Kinds())
	must(t, err)
	inv, err := runbook.LoadInventory(lab.Inventory)
	must(t, err)
	reports := filepath.Join(dir, "reports")
	seen := &engineSeen{pgdata: lab.Host("pg1").Dirs.DataDir}
	var mu sync.Mutex
	var events []runbook.Event
	recap, err := runbook.Run(ctx, runbook.RunOptions{
		Playbook: pb, Inventory: inv, Check: check,
		Extra: map[string]any{"engine_binary": builtEngine(t), "report_dir": reports},
		Events: func(ev runbook.Event) {
			seen.watch(t, ev)
			if watch != nil {
				watch(ev)
			}
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
		},
	})
	must(t, err)
	return recap, events, reports, seen
}

// engineSeen is the rewind engine's command line on the old primary, and
// its stream token file's mode, caught while it copied. Lab hosts share
// this machine's /tmp and process table, so this is how a test tells its
// own token file from a parallel test's.
type engineSeen struct {
	pgdata    string
	argv      []string
	tokenFile string
	tokenMode os.FileMode
}

// watch looks at the engine once, at the rewind's first copy progress.
func (s *engineSeen) watch(t *testing.T, ev runbook.Event) {
	if ev.Type != runbook.EventProgress || ev.Step != "rewind" || ev.Progress.Phase != "copying" || s.argv != nil {
		return
	}
	for _, pid := range engineProcesses(t, s.pgdata) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if err != nil || len(argv) < 2 || argv[1] != "rewind" {
			continue
		}
		s.argv = argv
		for _, a := range argv {
			if f, ok := strings.CutPrefix(a, "--source-stream-token-file="); ok {
				s.tokenFile = f
				if st, err := os.Stat(f); err == nil {
					s.tokenMode = st.Mode()
				}
			}
		}
	}
}

// stepEvents returns the step_end event of step and its output lines.
func stepEvents(events []runbook.Event, step string) (end runbook.Event, lines []string) {
	for _, ev := range events {
		if ev.Step != step {
			continue
		}
		switch ev.Type {
		case runbook.EventStepEnd:
			end = ev
		case runbook.EventOutput:
			lines = append(lines, ev.Stream+": "+ev.Line)
		}
	}
	return end, lines
}

// rewindReport reads the one rewind report the run kept.
func rewindReport(t *testing.T, dir string) map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "pg1-rewind-*.json"))
	must(t, err)
	if len(files) != 1 {
		t.Fatalf("rewind reports %v, want one", files)
	}
	b, err := os.ReadFile(files[0])
	must(t, err)
	var rep map[string]any
	must(t, json.Unmarshal(b, &rep))
	return rep
}

// hexToken matches a stream token (or any other 64-hex string).
var hexToken = regexp.MustCompile(`[0-9a-f]{64}`)

// TestRewindStreamFromSourceHost rewinds the lab's old primary over the
// compressed stream, with both database hosts behind a bastion:
// rewind-serve runs on the new primary pg2, the engine on pg1 reaches it
// through a remote forward on pg1's SSH connection (its last hop) and a
// direct-tcpip channel on pg2's. The node then
// verifies as a standby holding pg2's data; the report says the stream
// carried fewer bytes than the data it delivered; no server, token file
// or forwarded port is left behind, and no token shows in the run's
// events.
func TestRewindStreamFromSourceHost(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lab := streamLab(t, ctx, true)
	pg2 := lab.Host("pg2")

	// Under --check the step says it would rewind and starts nothing on
	// either host: no binary on pg2, no server.
	_, events, _, _ := runStreamPlaybookWatching(t, ctx, lab, true, nil)
	if end, _ := stepEvents(events, "rewind"); end.Status != runbook.StatusChanged || !strings.HasPrefix(end.Msg, "would rewind") {
		t.Errorf("rewind under --check: %s %q; want changed, would rewind", end.Status, end.Msg)
	}
	if shipped, _ := filepath.Glob(filepath.Join(pg2.Dirs.RemoteDir, "pgrunbook-*")); len(shipped) != 0 {
		t.Errorf("under --check the engine went to pg2: %v", shipped)
	}

	recap, events, reports, seen := runStreamPlaybook(t, ctx, lab)
	end, lines := stepEvents(events, "rewind")
	t.Logf("rewind: %s %s\n%s", end.Status, end.Msg, strings.Join(lines, "\n"))
	if got := recap.Hosts["pg1"]; got.Failed != 0 || got.Unreachable != 0 {
		for _, ev := range events {
			if ev.Type == runbook.EventStepEnd && ev.Status == runbook.StatusFailed {
				t.Errorf("step %s failed: %s", ev.Step, ev.Msg)
			}
		}
		t.Fatalf("recap pg1 %+v", got)
	}
	if end.Status != runbook.StatusChanged || !strings.Contains(end.Msg, "transfer: stream, ") {
		t.Errorf("rewind step %s %q: want changed, transfer: stream", end.Status, end.Msg)
	}
	for _, l := range lines {
		if strings.Contains(l, "unavailable") {
			t.Errorf("the stream fell back: %s", l)
		}
	}
	rep := rewindReport(t, reports)
	sent, _ := rep["bytes_transferred"].(float64)
	data, _ := rep["bytes_fetched"].(float64)
	if rep["transfer"] != "stream" || data < 1<<20 || sent <= 0 || sent >= data {
		t.Errorf("report: transfer %v, bytes_transferred %v, bytes_fetched %v; want stream, fewer bytes sent than a MB or more fetched",
			rep["transfer"], rep["bytes_transferred"], rep["bytes_fetched"])
	}
	if v, _ := stepEvents(events, "verify"); v.Status != runbook.StatusOK {
		t.Errorf("verify: %s %s", v.Status, v.Msg)
	}

	sum, err := digestFile(builtEngine(t))
	must(t, err)
	for _, ev := range events {
		for _, s := range hexToken.FindAllString(ev.Msg+" "+ev.Line, -1) {
			if s != sum.Sum {
				t.Errorf("a 64-hex string (the token?) shows in a %s event of %s: %s", ev.Type, ev.Step, ev.Msg+ev.Line)
			}
		}
	}
	assertStreamed(t, seen)
	assertStreamGone(t, lab, seen)
}

// TestRewindStreamFallsBackToSQL names a source host the bastion cannot
// reach (its sshd is down; PostgreSQL still answers): the rewind says why
// in an output line, fetches over SQL and the node still verifies.
func TestRewindStreamFallsBackToSQL(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lab := streamLab(t, ctx, false)
	must(t, lab.StopSSHD(ctx, "pg2"))

	recap, events, reports, seen := runStreamPlaybook(t, ctx, lab)
	end, lines := stepEvents(events, "rewind")
	t.Logf("rewind: %s %s\n%s", end.Status, end.Msg, strings.Join(lines, "\n"))
	if got := recap.Hosts["pg1"]; got.Failed != 0 || got.Unreachable != 0 {
		t.Fatalf("recap pg1 %+v; want no failure (pg2's sshd is down, not pg1)", got)
	}
	if end.Status != runbook.StatusChanged || strings.Contains(end.Msg, "transfer: stream") {
		t.Errorf("rewind step %s %q: want changed, over SQL", end.Status, end.Msg)
	}
	want := regexp.MustCompile(`^stderr: stream from pg2 unavailable: connect pg2: .+; fetching over SQL$`)
	found := false
	for _, l := range lines {
		found = found || want.MatchString(l)
	}
	if !found {
		t.Errorf("no output line matches %s:\n%s", want, strings.Join(lines, "\n"))
	}
	if rep := rewindReport(t, reports); rep["transfer"] == "stream" {
		t.Errorf("report transfer %v, want sql", rep["transfer"])
	}
	if v, _ := stepEvents(events, "verify"); v.Status != runbook.StatusOK {
		t.Errorf("verify: %s %s", v.Status, v.Msg)
	}
	if args := strings.Join(seen.argv, " "); seen.argv == nil || strings.Contains(args, "--source-stream") {
		t.Errorf("engine %q: want a rewind over SQL only", args)
	}
	assertStreamGone(t, lab, seen)
}

// assertStreamGone checks that no rewind-serve runs on pg2's data
// directory (the watchdog may take a moment), that the token file the
// engine was given is gone and that nothing but PostgreSQL listens on
// pg1's loopback (the remote forward is gone).
func assertStreamGone(t *testing.T, lab *testenv.Lab, seen *engineSeen) {
	t.Helper()
	pg1, pg2 := lab.Host("pg1"), lab.Host("pg2")
	deadline := time.Now().Add(10 * time.Second)
	for pids := engineProcesses(t, pg2.Dirs.DataDir); len(pids) > 0; pids = engineProcesses(t, pg2.Dirs.DataDir) {
		if time.Now().After(deadline) {
			t.Errorf("rewind-serve still runs on %s: %v", pg2.Dirs.DataDir, pids)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if seen.tokenFile != "" {
		if _, err := os.Stat(seen.tokenFile); !os.IsNotExist(err) {
			t.Errorf("token file %s left (%v)", seen.tokenFile, err)
		}
		if _, err := os.Stat(filepath.Dir(seen.tokenFile)); !os.IsNotExist(err) {
			t.Errorf("token directory %s left (%v)", filepath.Dir(seen.tokenFile), err)
		}
	}
	out, err := exec.Command("ip", "netns", "exec", pg1.Namespace, "ss", "-Hltn").CombinedOutput()
	if err != nil {
		t.Fatalf("ss in %s: %v\n%s", pg1.Namespace, err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, "127.0.0.1:") && !strings.Contains(line, "127.0.0.1:5432") {
			t.Errorf("still listening on pg1's loopback: %s", line)
		}
	}
}

// assertStreamed checks the engine ran with the stream flags and a token
// file only its user can read.
func assertStreamed(t *testing.T, seen *engineSeen) {
	t.Helper()
	args := strings.Join(seen.argv, " ")
	if !strings.Contains(args, "--source-stream=127.0.0.1:") || seen.tokenFile == "" || seen.tokenMode != 0o600 {
		t.Errorf("engine %s: token file %q mode %v; want --source-stream on loopback and a 0600 token file", args, seen.tokenFile, seen.tokenMode)
	}
}

// TestRewindStreamBrokenMidCopy kills rewind-serve on the new primary
// while the engine copies: the rewind fails (no silent switch to SQL in
// the middle of a copy), the server, token file and forward are still
// cleaned up, and a rerun of the playbook resumes the interrupted rewind
// over a new stream and the node verifies.
func TestRewindStreamBrokenMidCopy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lab := streamLab(t, ctx, false)
	pg2 := lab.Host("pg2")

	var mu sync.Mutex
	var killed []int
	kill := func(ev runbook.Event) {
		p := ev.Progress
		// The copy's first progress event, not a later one: the whole
		// compressed stream (a few megabytes) fits in the SSH windows
		// and relay buffers between the hosts, so by the time a later
		// event reaches the bastion the server may have sent it all.
		if ev.Type != runbook.EventProgress || ev.Step != "rewind" || p.Phase != "copying" || p.Done >= p.Total {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if killed != nil {
			return
		}
		killed = engineProcesses(t, pg2.Dirs.DataDir)
		for _, pid := range killed {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	recap, events, _, seen := runStreamPlaybookWatching(t, ctx, lab, false, kill)
	end, lines := stepEvents(events, "rewind")
	t.Logf("rewind with rewind-serve killed (pids %v): %s %s\n%s", killed, end.Status, end.Msg, strings.Join(lines, "\n"))
	if len(killed) == 0 {
		t.Fatal("no rewind-serve to kill while copying")
	}
	if end.Status != runbook.StatusFailed || recap.Hosts["pg1"].Failed != 1 {
		t.Fatalf("rewind %s (%s), recap %+v; want the rewind failed", end.Status, end.Msg, recap.Hosts["pg1"])
	}
	for _, l := range lines {
		if strings.Contains(l, "fetching over SQL") {
			t.Errorf("the broken stream was replaced by SQL: %s", l)
		}
	}
	assertStreamed(t, seen)
	assertStreamGone(t, lab, seen)

	recap, events, reports, seen := runStreamPlaybook(t, ctx, lab)
	end, lines = stepEvents(events, "rewind")
	t.Logf("rerun: %s %s\n%s", end.Status, end.Msg, strings.Join(lines, "\n"))
	if got := recap.Hosts["pg1"]; got.Failed != 0 || got.Unreachable != 0 {
		t.Fatalf("rerun: recap pg1 %+v", got)
	}
	if end.Status != runbook.StatusChanged || !strings.Contains(end.Msg, "transfer: stream") {
		t.Errorf("rerun: rewind %s %q; want changed over the stream", end.Status, end.Msg)
	}
	if rep := rewindReport(t, reports); rep["transfer"] != "stream" {
		t.Errorf("rerun: report transfer %v", rep["transfer"])
	}
	if v, _ := stepEvents(events, "verify"); v.Status != runbook.StatusOK {
		t.Errorf("rerun: verify %s %s", v.Status, v.Msg)
	}
	assertStreamed(t, seen)
	assertStreamGone(t, lab, seen)
}
