package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// The lost-data steps of rejoin.yml, by name.
const (
	stepSnapshot = "snapshot the old primary's catalog"
	stepLost     = "report what the rewind throws away"
)

// drillXIDs returns the xids the drill says the old primary committed
// after the partition.
func drillXIDs(t *testing.T, out []byte, host string) []uint32 {
	t.Helper()
	ev := parseLabEvents(t, out)
	for _, line := range ev.output[host+"/write on the old primary during the split"] {
		if x, ok := strings.CutPrefix(line, "split brain xids: "); ok {
			var xids []uint32
			for _, f := range strings.Fields(x) {
				n, err := strconv.ParseUint(f, 10, 32)
				if err != nil {
					t.Fatalf("drill xid %q: %v", f, err)
				}
				xids = append(xids, uint32(n))
			}
			return xids
		}
	}
	t.Fatalf("%s: the drill listed no split brain xids", host)
	return nil
}

// eventOrder returns the index of each "type host/step" event of a JSON
// event stream, to tell what ran before what.
func eventOrder(t *testing.T, out []byte) map[string]int {
	t.Helper()
	order := map[string]int{}
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e struct{ Type, Host, Step string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		order[e.Type+" "+e.Host+"/"+e.Step] = i
	}
	return order
}

// TestLostReportAfterTheDrill runs the drill, then rejoin.yml with a
// report directory and a salvage directory through the bastion. Before
// the rewind, the lost-data report on the bastion lists exactly the
// transactions the drill committed on the old primary after the
// partition, names the split brain's table, view and function as objects
// only the old primary has, and its summary is the step's message; the
// salvage directory holds the divergent WAL and a dump of t2 with its
// rows. --check first changes nothing and writes no report.
func TestLostReportAfterTheDrill(t *testing.T) {
	t.Parallel()
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Bastion: true, Postgres: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reports, salvage := t.TempDir(), t.TempDir()
	opts := runOptions{inventory: lab.Inventory, forks: 5, extra: []string{
		"engine_binary=" + rejoinEngine(t), "report_dir=" + reports, "salvage_dir=" + salvage}}
	c := lab.Clusters[0]
	old := lab.Host(c.Primary)
	xids := drillXIDs(t, runPlaybook(t, ctx, opts, drillPlaybook), c.Primary)
	if len(xids) < 9 {
		t.Fatalf("the drill committed %d transactions on the old primary, want at least 9", len(xids))
	}

	before := pgdataTree(t, old.Dirs.DataDir)
	check := opts
	check.check = true
	runPlaybook(t, ctx, check, rejoinPlaybook)
	if after := pgdataTree(t, old.Dirs.DataDir); after != before {
		t.Errorf("--check changed %s", old.Dirs.DataDir)
	}
	if _, err := os.Stat(filepath.Join(reports, c.Primary)); !os.IsNotExist(err) {
		t.Errorf("--check wrote reports: %v", err)
	}

	out := runPlaybook(t, ctx, opts, rejoinPlaybook)
	ends, order := stepEnds(t, out), eventOrder(t, out)
	if e := ends[c.Primary+"/"+stepSnapshot]; e.Status != "changed" || !strings.Contains(e.Msg, "catalog.json") {
		t.Errorf("catalog snapshot: %s: %s", e.Status, e.Msg)
	}
	lostEnd := order["step_end "+c.Primary+"/"+stepLost]
	if rewindStart, ok := order["step_start "+c.Primary+"/"+stepRewind]; !ok || lostEnd == 0 || lostEnd > rewindStart {
		t.Errorf("lost report ended at event %d, rewind started at %d (%v): want the report first", lostEnd, rewindStart, ok)
	}
	checkRejoined(t, ctx, lab, c)

	dir := filepath.Join(reports, c.Primary)
	b, err := os.ReadFile(filepath.Join(dir, "lost.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep engine.LostReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("lost.json: %v", err)
	}
	var got []uint32
	for _, cm := range rep.Commits {
		got = append(got, cm.XID)
		if _, err := time.Parse(time.RFC3339Nano, cm.Time); err != nil {
			t.Errorf("commit %d time %q: %v", cm.XID, cm.Time, err)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, xids) {
		t.Errorf("lost commits %v, want the drill's %v", got, xids)
	}
	if rep.Divergence == nil || rep.OldTimeline != 1 || rep.NewTimeline != 2 || rep.WALBytes <= 0 || !rep.RewindNeeded {
		t.Errorf("divergence %v, timelines %d -> %d, %d WAL bytes, rewind needed %v", rep.Divergence, rep.OldTimeline, rep.NewTimeline, rep.WALBytes, rep.RewindNeeded)
	}
	named := map[string]engine.NamedLostRelation{}
	for _, r := range rep.Relations {
		named[r.Schema+"."+r.Name] = r
	}
	if r := named["public.t2"]; r.Kind != "table" || r.NamedBy != "old primary" || r.Blocks < 1 || r.Database != "postgres" {
		t.Errorf("t2 in the lost relations: %+v", r)
	}
	if r := named["public.t1"]; r.Kind != "table" || r.Blocks < 1 {
		t.Errorf("t1 in the lost relations: %+v", r)
	}
	only := map[string]bool{}
	for _, o := range rep.OnlyOnOldPrimary {
		only[o.Kind+" "+o.Database+":"+o.Schema+"."+o.Name] = true
	}
	for _, want := range []string{"table postgres:public.t2", "view postgres:public.v2", "function postgres:public.ft"} {
		if !only[want] {
			t.Errorf("only on the old primary lacks %s: %v", want, rep.OnlyOnOldPrimary)
		}
	}
	if only["table postgres:public.t1"] {
		t.Errorf("t1 is on both primaries, yet listed as only on the old one")
	}

	text, err := os.ReadFile(filepath.Join(dir, "lost.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", text)
	for _, x := range xids {
		if !strings.Contains(string(text), "  xid "+strconv.FormatUint(uint64(x), 10)+" at ") {
			t.Errorf("lost.txt lacks xid %d:\n%s", x, text)
		}
	}
	for _, want := range []string{"table public.t2 in database postgres", "view public.v2 in database postgres", "function public.ft() in database postgres"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("lost.txt lacks %q:\n%s", want, text)
		}
	}
	msg := ends[c.Primary+"/"+stepLost].Msg
	for _, want := range []string{"lost " + strconv.Itoa(len(xids)) + " commits", "table public.t2", "view public.v2", "function public.ft()"} {
		if !strings.Contains(msg, want) {
			t.Errorf("lost report message %q lacks %q", msg, want)
		}
	}
	// The recap repeats the summary, so it is the last thing the operator
	// reads.
	var recap struct{ Notes map[string][]string }
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &recap); err != nil {
		t.Fatalf("last line is not the recap: %v", err)
	}
	if notes := strings.Join(recap.Notes[c.Primary], "\n"); !strings.Contains(notes, "lost "+strconv.Itoa(len(xids))+" commits") {
		t.Errorf("recap notes of %s = %q, want the lost-data summary", c.Primary, notes)
	}

	if rep.Salvage == nil || len(rep.Salvage.WALSegments) == 0 || len(rep.Salvage.Dumps) != 1 {
		t.Fatalf("salvage: %+v", rep.Salvage)
	}
	for _, p := range rep.Salvage.WALSegments {
		if fi, err := os.Stat(p); err != nil || fi.Size() != 16<<20 {
			t.Errorf("salvaged segment %s: %v", p, err)
		}
	}
	dump, err := os.ReadFile(filepath.Join(salvage, c.Primary, "postgres.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CREATE TABLE public.t2", "COPY public.t2 (id, val) FROM stdin;", "split brain 10"} {
		if !strings.Contains(string(dump), want) {
			t.Errorf("salvaged dump lacks %q", want)
		}
	}
}
