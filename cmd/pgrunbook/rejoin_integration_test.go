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
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
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
	if msg := ends[c.Primary+"/"+stepRewind].Msg; !strings.Contains(msg, "would rewind") || !strings.Contains(msg, "keeps the node's ") ||
		!strings.Contains(msg, "postgresql.conf (differs)") || len(ends[c.Primary+"/"+stepRewind].Diffs) != 0 {
		t.Errorf("--check rewind: %q, want the node's postgresql.conf kept and no diff", msg)
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
	if msg := ends[c.Primary+"/"+stepRewind].Msg; !strings.Contains(msg, "kept the node's ") || !strings.Contains(msg, "postgresql.conf (differs)") {
		t.Errorf("rewind: %q, want the node's postgresql.conf kept", msg)
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

// walSegSize is the lab clusters' WAL segment size (initdb's default).
const walSegSize = 16 << 20

// segmentName names the WAL segment of timeline tli holding lsn.
func segmentName(tli int, lsn pgcluster.LSN) string {
	segno := uint64(lsn) / walSegSize
	return fmt.Sprintf("%08X%08X%08X", tli, segno/(0x100000000/walSegSize), segno%(0x100000000/walSegSize))
}

// segmentFile matches WAL segment file names.
var segmentFile = regexp.MustCompile(`^[0-9A-F]{24}$`)

// checkpointRedo matches a checkpoint record in pg_waldump's output.
var checkpointRedo = regexp.MustCompile(`lsn: ([0-9A-F]+/[0-9A-F]+), .*desc: CHECKPOINT_(?:ONLINE|SHUTDOWN) redo ([0-9A-F]+/[0-9A-F]+); tli 1;`)

// commonRedo finds, with pg_waldump, the redo point of the old primary's
// last checkpoint before the divergence: where a rewind starts to read
// its WAL (the seed's "last common checkpoint").
func commonRedo(t *testing.T, ctx context.Context, oldp *pgcluster.Cluster, divergence pgcluster.LSN) pgcluster.LSN {
	t.Helper()
	wal := filepath.Join(oldp.DataDir, "pg_wal")
	entries, err := os.ReadDir(wal)
	if err != nil {
		t.Fatal(err)
	}
	first := ""
	for _, e := range entries {
		if segmentFile.MatchString(e.Name()) && strings.HasPrefix(e.Name(), "00000001") {
			first = e.Name()
			break
		}
	}
	if first == "" {
		t.Fatalf("%s: no WAL of timeline 1 in pg_wal", oldp.Name)
	}
	// From the first segment's start to the end of the valid WAL, where
	// pg_waldump stops with an error: its output up to there counts.
	segno, err := strconv.ParseUint(first[8:16], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	low, _ := strconv.ParseUint(first[16:], 16, 64)
	start := pgcluster.LSN((segno*(0x100000000/walSegSize) + low) * walSegSize)
	out, _ := exec.CommandContext(ctx, oldp.Bin("pg_waldump"), "-p", wal, "-t", "1", "-r", "XLOG", "-s", start.String()).Output()
	var redo pgcluster.LSN
	for _, m := range checkpointRedo.FindAllStringSubmatch(string(out), -1) {
		at, err1 := pgcluster.ParseLSN(m[1])
		r, err2 := pgcluster.ParseLSN(m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("pg_waldump: %q", m[0])
		}
		if at < divergence {
			redo = r
		}
	}
	if redo == 0 {
		t.Fatalf("%s: no checkpoint before %s in pg_waldump's output:\n%s", oldp.Name, divergence, out)
	}
	return redo
}

// recycleWAL plays the seed's failure on an old primary after the drill:
// the segments a rewind needs (the last common checkpoint's redo up to the
// end of its WAL) are in the archive, made sure of here, and no longer in
// pg_wal. It returns the names it removed.
func recycleWAL(t *testing.T, ctx context.Context, lab *testenv.Lab, c *testenv.Cluster) []string {
	t.Helper()
	oldp := lab.PGCluster(c.Primary)
	archive := lab.Host(c.Primary).Dirs.ArchiveDir
	redo := commonRedo(t, ctx, oldp, switchpoint(t, lab.PGCluster(c.NewPrimary())))
	end, err := pgcluster.ParseLSN(controlData(t, ctx, oldp)["Latest checkpoint location"])
	if err != nil {
		t.Fatal(err)
	}
	from, to := segmentName(1, redo), segmentName(1, end)
	if from == to {
		t.Fatalf("%s: the rewind reads one segment only (%s): nothing to recycle around", oldp.Name, from)
	}
	var removed []string
	for seg := redo / walSegSize; seg <= end/walSegSize; seg++ {
		name := segmentName(1, seg*walSegSize)
		src, dst := filepath.Join(oldp.DataDir, "pg_wal", name), filepath.Join(archive, name)
		if _, err := os.Stat(dst); err != nil {
			// The segment the server was writing when it stopped was
			// never complete, so never archived: archive it as an
			// operator's last sync would.
			if out, err := exec.CommandContext(ctx, "runuser", "-u", "postgres", "--", "cp", src, dst).CombinedOutput(); err != nil {
				t.Fatalf("archive %s: %v %s", name, err, out)
			}
		}
		if err := os.Remove(src); err != nil {
			t.Fatal(err)
		}
		removed = append(removed, name)
	}
	return removed
}

// stagedByReport reads the staged file names from the one wal_stage
// report that report_dir holds for host.
func stagedByReport(t *testing.T, dir, host string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, host+"-wal_stage-*.json"))
	if len(files) != 1 {
		t.Fatalf("wal_stage reports of %s in %s: %v, want one", host, dir, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Staged []struct{ Name string }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", files[0], err)
	}
	names := []string{}
	for _, s := range rep.Staged {
		names = append(names, s.Name)
	}
	return names
}

// TestRejoinTwoClustersRecycledWAL rejoins the old primaries of two
// clusters in one run with -f 2; cluster a's old primary lost the WAL the
// rewind needs from pg_wal (the seed's first failure), and wal_stage brings
// back exactly those segments from the archive; cluster b's old primary
// crashed, and pg_stop shuts it down cleanly before the rewind.
func TestRejoinTwoClustersRecycledWAL(t *testing.T) {
	t.Parallel()
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 4, Clusters: 2, Bastion: true, Postgres: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reports := t.TempDir()
	opts := runOptions{inventory: lab.Inventory, forks: 2, extra: []string{"engine_binary=" + rejoinEngine(t), "report_dir=" + reports}}
	runPlaybook(t, ctx, opts, drillPlaybook)
	a, b := lab.Clusters[0], lab.Clusters[1]
	removed := recycleWAL(t, ctx, lab, a)
	// Cluster b's old primary crashed instead: it ran again after the
	// drill, wrote more of the split brain, and died without a shutdown
	// checkpoint. pg_stop brings it to a clean shutdown first.
	bp := lab.PGCluster(b.Primary)
	if err := bp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bp.Exec(ctx, "postgres", "INSERT INTO test (note) VALUES ('after the crash')"); err != nil {
		t.Fatal(err)
	}
	if err := bp.Stop(ctx, pgcluster.StopImmediate); err != nil {
		t.Fatal(err)
	}

	out := runPlaybook(t, ctx, opts, rejoinPlaybook)
	ends := stepEnds(t, out)
	ev := parseLabEvents(t, out)
	for _, c := range lab.Clusters {
		if r := ev.recap[c.Primary]; r.Failed != 0 || r.Unreachable != 0 {
			t.Errorf("%s: recap %+v", c.Primary, r)
		}
		checkRejoined(t, ctx, lab, c)
	}
	if got := stagedByReport(t, reports, a.Primary); !slices.Equal(got, removed) {
		t.Errorf("%s: wal_stage staged %v, want the removed %v", a.Primary, got, removed)
	}
	if e := ends[a.Primary+"/"+stepStage]; e.Status != "changed" {
		t.Errorf("%s: wal_stage %s (%s), want changed", a.Primary, e.Status, e.Msg)
	}
	if e := ends[b.Primary+"/"+stepStop]; e.Status != "changed" || !strings.Contains(e.Msg, "crash-recovered") {
		t.Errorf("%s: pg_stop %s (%s), want a crash recovery", b.Primary, e.Status, e.Msg)
	}
	if e := ends[a.Primary+"/"+stepStop]; e.Status != "ok" {
		t.Errorf("%s: pg_stop %s (%s), want ok (cleanly stopped by the drill)", a.Primary, e.Status, e.Msg)
	}
	if got := stagedByReport(t, reports, b.Primary); len(got) != 0 {
		t.Errorf("%s: wal_stage staged %v with a complete pg_wal", b.Primary, got)
	}
	if e := ends[b.Primary+"/"+stepStage]; e.Status != "ok" {
		t.Errorf("%s: wal_stage %s (%s), want ok", b.Primary, e.Status, e.Msg)
	}
}
