package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
)

var (
	engineOnce sync.Once
	engineBin  string
	engineErr  error
)

// rejoinEngine builds the pgrunbook binary once: the rewind and wal_stage
// steps ship it to the hosts (this test binary is not pgrunbook).
func rejoinEngine(t *testing.T) string {
	t.Helper()
	engineOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pgrunbook-rejoin-engine")
		if err != nil {
			engineErr = err
			return
		}
		bin := filepath.Join(dir, "pgrunbook")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if out, err := exec.Command(goTool, "build", "-o", bin, "github.com/pgrunbook/pgrunbook/cmd/pgrunbook").CombinedOutput(); err != nil {
			engineErr = fmt.Errorf("build pgrunbook: %v\n%s", err, out)
			return
		}
		engineBin = bin
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engineBin
}

// stepEnd is a step_end event of --output json.
type stepEnd struct {
	Host, Step, Status, Msg string
	DurationMS              int64 `json:"duration_ms"`
	Diffs                   []runbook.FileDiff
}

// stepEnds returns the step_end events of a JSON event stream, by
// "host/step".
func stepEnds(t *testing.T, out []byte) map[string]stepEnd {
	t.Helper()
	ends := map[string]stepEnd{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e struct {
			Type string
			stepEnd
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		if e.Type == "step_end" {
			ends[e.Host+"/"+e.Step] = e.stepEnd
		}
	}
	return ends
}

// runPlaybook runs a playbook with JSON output and fails the test when the
// run fails.
func runPlaybook(t *testing.T, ctx context.Context, opts runOptions, playbook string) []byte {
	t.Helper()
	var out bytes.Buffer
	opts.output = "json"
	if err := runRun(ctx, opts, []string{playbook}, &out); err != nil {
		t.Fatalf("run %s: %v\n%s", filepath.Base(playbook), err, out.String())
	}
	return out.Bytes()
}

// pgdataTree lists every path under dir with its size and mtime, to show
// that a --check run touched nothing.
func pgdataTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %s %d\n", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The steps of rejoin.yml, by name.
const (
	stepBefore   = "is it already a standby of the new primary"
	stepStop     = "stop the old primary cleanly"
	stepStage    = "stage the WAL the rewind needs"
	stepRewind   = "rewind to the new primary's timeline"
	stepRecovery = "standby settings"
	stepConf     = "node identity"
	stepStart    = "start as a standby"
	stepVerify   = "verify the rejoin"
)

// tableSums is the seed's comparison: every user table's row hash sum and
// count, on one server.
const tableSums = `SELECT coalesce(string_agg(format('%s:%s', c.relname,
	(xpath('/row/s/text()', query_to_xml(format('SELECT coalesce(sum(hashtext(t::text)), 0) || ''/'' || count(*) AS s FROM %I.%I t', n.nspname, c.relname), false, false, '')))[1]::text), ' ' ORDER BY c.relname), '')
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind = 'r' AND n.nspname = 'public'`

// checkRejoined checks one cluster after the rejoin: the old primary is
// in recovery and streams from the new primary, the split brain's table,
// view and function are gone, and every user table matches.
func checkRejoined(t *testing.T, ctx context.Context, lab *testenv.Lab, c *testenv.Cluster) {
	t.Helper()
	oldp, newp := lab.PGCluster(c.Primary), lab.PGCluster(c.NewPrimary())
	if got := queryValue(t, ctx, oldp, "SELECT pg_is_in_recovery()"); got != "t" {
		t.Errorf("%s: not in recovery after the rejoin", oldp.Name)
	}
	// The receiver may need a moment after verify to report again.
	want := "streaming|" + lab.Host(c.NewPrimary()).Address
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = queryValue(t, ctx, oldp, "SELECT coalesce((SELECT status || '|' || sender_host FROM pg_stat_wal_receiver), 'none')"); got == want {
			break
		}
	}
	if got != want {
		t.Errorf("%s: wal receiver %s, want %s", oldp.Name, got, want)
	}
	if got := queryValue(t, ctx, newp, "SELECT string_agg(application_name || ':' || state, ',') FROM pg_stat_replication WHERE application_name = '"+c.Primary+"'"); got != c.Primary+":streaming" {
		t.Errorf("%s: pg_stat_replication of %s: %q", newp.Name, c.Primary, got)
	}
	if got := queryValue(t, ctx, oldp, "SELECT to_regclass('t2') IS NULL AND to_regclass('v2') IS NULL AND to_regprocedure('ft()') IS NULL"); got != "t" {
		t.Errorf("%s: split brain objects left after the rejoin", oldp.Name)
	}
	// Replay catches up with a quiet primary: compare once it has.
	lsn := queryValue(t, ctx, newp, "SELECT pg_current_wal_lsn()")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if queryValue(t, ctx, oldp, "SELECT pg_last_wal_replay_lsn() >= '"+lsn+"'") == "t" {
			break
		}
	}
	a, b := queryValue(t, ctx, oldp, tableSums), queryValue(t, ctx, newp, tableSums)
	if a != b || !strings.Contains(a, "t1:") || !strings.Contains(a, "tbl:") || !strings.Contains(a, "test:") {
		t.Errorf("tables of %s: %s\nof %s: %s", oldp.Name, a, newp.Name, b)
	}
}

// TestRejoinOnTheLab runs the drill and then rejoin.yml through a bastion:
// --check --diff first changes nothing on disk and plans the config files'
// edits, the rejoin makes the old primary a streaming standby of the new
// one, and a second run changes nothing.
func TestRejoinOnTheLab(t *testing.T) {
	t.Parallel()
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Bastion: true, Postgres: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	engine := rejoinEngine(t)
	opts := runOptions{inventory: lab.Inventory, forks: 5, extra: []string{"engine_binary=" + engine}}
	runPlaybook(t, ctx, opts, drillPlaybook)
	c := lab.Clusters[0]
	old := lab.Host(c.Primary)

	// --check --diff: nothing on disk moves, the plan is listed.
	before := pgdataTree(t, old.Dirs.DataDir)
	check := opts
	check.check, check.diff = true, true
	ends := stepEnds(t, runPlaybook(t, ctx, check, rejoinPlaybook))
	if after := pgdataTree(t, old.Dirs.DataDir); after != before {
		t.Errorf("--check changed %s:\nbefore:\n%s\nafter:\n%s", old.Dirs.DataDir, before, after)
	}
	wantCheck := map[string]string{
		stepBefore: "ok", stepStop: "ok", stepStage: "ok", stepRewind: "changed",
		stepRecovery: "changed", stepConf: "changed", stepStart: "changed", stepVerify: "ok",
	}
	for step, want := range wantCheck {
		e := ends[c.Primary+"/"+step]
		if step == stepStage && e.Status == "changed" {
			continue // the archive may or may not miss segments: both are fine
		}
		if e.Status != want {
			t.Errorf("--check %q: %s (%s), want %s", step, e.Status, e.Msg, want)
		}
	}
	if !strings.Contains(ends[c.Primary+"/"+stepRewind].Msg, "would rewind") {
		t.Errorf("--check rewind: %q", ends[c.Primary+"/"+stepRewind].Msg)
	}
	diffs := map[string]runbook.FileDiff{}
	for _, step := range []string{stepRecovery, stepConf} {
		for _, d := range ends[c.Primary+"/"+step].Diffs {
			diffs[filepath.Base(d.Path)] = d
		}
	}
	if d, ok := diffs["postgresql.auto.conf"]; !ok || !strings.Contains(d.After, "primary_conninfo = 'host="+lab.Host(c.NewPrimary()).Address) ||
		!strings.Contains(d.After, "application_name="+c.Primary) || strings.Contains(d.After, "password") {
		t.Errorf("--diff of postgresql.auto.conf: %+v", d)
	}
	if d, ok := diffs["postgresql.conf"]; !ok || !strings.Contains(d.After, "archive_command = 'test ! -f "+old.Dirs.ArchiveDir) ||
		strings.Contains(d.Before, "archive_command = 'test ! -f") {
		t.Errorf("--diff of postgresql.conf: %+v", d)
	}
	if _, ok := diffs["standby.signal"]; !ok {
		t.Errorf("--diff lists no standby.signal: %v", slices.Sorted(maps.Keys(diffs)))
	}

	// The rejoin.
	out := runPlaybook(t, ctx, opts, rejoinPlaybook)
	ends = stepEnds(t, out)
	for step, want := range map[string]string{
		stepBefore: "ok", stepStop: "ok", stepRewind: "changed",
		stepRecovery: "changed", stepConf: "changed", stepStart: "changed", stepVerify: "ok",
	} {
		if e := ends[c.Primary+"/"+step]; e.Status != want {
			t.Errorf("rejoin %q: %s (%s), want %s", step, e.Status, e.Msg, want)
		}
	}
	if msg := ends[c.Primary+"/"+stepVerify].Msg; !strings.HasPrefix(msg, "all ") || !strings.HasSuffix(msg, " checks passed") {
		t.Errorf("verify: %q", msg)
	}
	ev := parseLabEvents(t, out)
	if r := ev.recap[c.Primary]; r.Failed != 0 || r.Changed < 4 {
		t.Errorf("recap of the rejoin: %+v", r)
	}
	checkRejoined(t, ctx, lab, c)

	// Again: the node is a healthy standby, so nothing is done.
	ev = parseLabEvents(t, runPlaybook(t, ctx, opts, rejoinPlaybook))
	if r := ev.recap[c.Primary]; r.Changed != 0 || r.Failed != 0 {
		t.Errorf("recap of the second run: %+v, want nothing changed", r)
	}
	checkRejoined(t, ctx, lab, c)
}
