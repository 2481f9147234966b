package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// controlData runs pg_controldata on a stopped node and returns its fields.
func controlData(t *testing.T, ctx context.Context, c *pgcluster.Cluster) map[string]string {
	t.Helper()
	cmd, err := c.Command(ctx, c.Bin("pg_controldata"), "-D", c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_controldata %s: %v", c.DataDir, err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return fields
}

// switchpoint reads where timeline 1 ends from the new primary's
// 00000002.history: the divergence point of the split brain.
func switchpoint(t *testing.T, c *pgcluster.Cluster) pgcluster.LSN {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "pg_wal", "00000002.history"))
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || f[0] != "1" {
		t.Fatalf("%s: 00000002.history %q", c.Name, b)
	}
	lsn, err := pgcluster.ParseLSN(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

func queryValue(t *testing.T, ctx context.Context, c *pgcluster.Cluster, sql string) string {
	t.Helper()
	v, err := c.QueryValue(ctx, "postgres", sql)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	return v
}

var splitLine = regexp.MustCompile(`^split brain: (\d+) transactions committed on the old primary after the partition$`)

// checkDrilled checks one cluster after the drill: the new primary left
// recovery on timeline 2 and has the new primary's writes but no split
// brain objects; the old primary is cleanly stopped on timeline 1 with a
// checkpoint past the divergence; the partition is healed.
func checkDrilled(t *testing.T, ctx context.Context, lab *testenv.Lab, c *testenv.Cluster, out []string) {
	t.Helper()
	oldp, newp := lab.PGCluster(c.Primary), lab.PGCluster(c.NewPrimary())
	if got := queryValue(t, ctx, newp, "SELECT pg_is_in_recovery()"); got != "f" {
		t.Errorf("%s: in recovery after the drill", newp.Name)
	}
	if got := queryValue(t, ctx, newp, "SELECT timeline_id FROM pg_control_checkpoint()"); got != "2" {
		t.Errorf("%s: pg_control timeline %s, want 2", newp.Name, got)
	}
	got := queryValue(t, ctx, newp, `SELECT (SELECT count(*) FROM tbl WHERE note = 'written on the new primary')
		|| ',' || (SELECT count(*) FROM t1 WHERE val LIKE 'new primary %')
		|| ',' || (to_regclass('t2') IS NULL AND to_regclass('v2') IS NULL AND to_regprocedure('ft()') IS NULL)`)
	if got != "100,100,true" {
		t.Errorf("%s: new primary's rows, t1 updates, no split brain objects = %s, want 100,100,true", newp.Name, got)
	}

	if running, err := oldp.Running(ctx); err != nil || running {
		t.Errorf("%s: running=%v (%v) after the drill, want stopped", oldp.Name, running, err)
	}
	cd := controlData(t, ctx, oldp)
	if cd["Database cluster state"] != "shut down" || cd["Latest checkpoint's TimeLineID"] != "1" {
		t.Errorf("%s: state %q on timeline %q, want shut down on 1", oldp.Name, cd["Database cluster state"], cd["Latest checkpoint's TimeLineID"])
	}
	ckpt, err := pgcluster.ParseLSN(cd["Latest checkpoint location"])
	if err != nil {
		t.Fatal(err)
	}
	if fork := switchpoint(t, newp); ckpt <= fork {
		t.Errorf("%s: last checkpoint %s is not past the divergence %s: no split brain", oldp.Name, ckpt, fork)
	}

	n, xids, t2Seen := -1, []string(nil), false
	for _, line := range out {
		if m := splitLine.FindStringSubmatch(line); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		if x, ok := strings.CutPrefix(line, "split brain xids: "); ok {
			xids = strings.Fields(x)
		}
		// The split brain's table is on the old primary's disk only.
		if f, ok := strings.CutPrefix(line, "split brain t2 file: "); ok {
			if _, err := os.Stat(filepath.Join(oldp.DataDir, f)); err != nil || !strings.HasPrefix(f, "base/") {
				t.Errorf("%s: t2's file %q: %v", oldp.Name, f, err)
			}
			t2Seen = true
		}
	}
	if !t2Seen {
		t.Errorf("%s: the drill did not say where t2 lives", oldp.Name)
	}
	if len(xids) != n {
		t.Errorf("%s: %d transactions counted, %d xids listed", oldp.Name, n, len(xids))
	}
	// t2, v2, ft, the t1 update and five inserts: nine at least
	// (autovacuum may commit more).
	if n < 9 {
		t.Errorf("%s: split brain count %d, want at least 9 in:\n%s", oldp.Name, n, strings.Join(out, "\n"))
	}
	routes, err := lab.Exec(ctx, c.Primary, "ip", "route", "show", "type", "prohibit")
	if err != nil || len(bytes.TrimSpace(routes)) > 0 {
		t.Errorf("%s: prohibit routes left after the drill: %v %s", c.Primary, err, routes)
	}
}

// TestDrillOnTheLab runs playbooks/drill.yml through a bastion on two
// clusters at once, checks the split brain it leaves, and runs it again.
func TestDrillOnTheLab(t *testing.T) {
	t.Parallel()
	// Cluster a has a second standby, which stays behind on the old
	// timeline (as on the Vagrant VMs); b is a plain pair.
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 5, Clusters: 2, Bastion: true, Postgres: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := runOptions{inventory: lab.Inventory, forks: 5, output: "json"}

	// --check looks and changes nothing.
	var out bytes.Buffer
	check := opts
	check.check = true
	if err := runRun(ctx, check, []string{drillPlaybook}, &out); err != nil {
		t.Fatalf("drill --check: %v\n%s", err, out.String())
	}
	for _, c := range lab.Clusters {
		if got := queryValue(t, ctx, lab.PGCluster(c.NewPrimary()), "SELECT pg_is_in_recovery()"); got != "t" {
			t.Fatalf("%s left recovery under --check", c.NewPrimary())
		}
		routes, err := lab.Exec(ctx, c.Primary, "ip", "route", "show", "type", "prohibit")
		if err != nil || len(bytes.TrimSpace(routes)) > 0 {
			t.Fatalf("%s: routes after --check: %v %s", c.Primary, err, routes)
		}
	}

	out.Reset()
	if err := runRun(ctx, opts, []string{drillPlaybook}, &out); err != nil {
		t.Fatalf("drill: %v\n%s", err, out.String())
	}
	ev := parseLabEvents(t, out.Bytes())
	split := map[string][]string{}
	for _, c := range lab.Clusters {
		split[c.Primary] = ev.output[c.Primary+"/write on the old primary during the split"]
		// Every step changes something, except looking and noting.
		if got, want := ev.recap[c.Primary], (runbook.HostRecap{OK: 9, Changed: 7}); got != want {
			t.Errorf("%s recap %+v, want %+v", c.Primary, got, want)
		}
		checkDrilled(t, ctx, lab, c, split[c.Primary])
	}
	st, err := lab.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"pg1": "primary down", "pg2": "primary up", "pg3": "standby up", "pg4": "primary down", "pg5": "primary up"}
	for _, h := range st.Hosts[1:] { // after the bastion
		if got := h.PGRole + map[bool]string{true: " up", false: " down"}[h.PGUp]; got != want[h.Name] {
			t.Errorf("status of %s after the drill: %s, want %s", h.Name, got, want[h.Name])
		}
	}

	// Again: nothing to do, and nothing done.
	out.Reset()
	if err := runRun(ctx, opts, []string{drillPlaybook}, &out); err != nil {
		t.Fatalf("drill again: %v\n%s", err, out.String())
	}
	ev = parseLabEvents(t, out.Bytes())
	for _, c := range lab.Clusters {
		if got, want := ev.recap[c.Primary], (runbook.HostRecap{OK: 2, Skipped: 7}); got != want {
			t.Errorf("%s recap of the second run %+v, want %+v\n%s", c.Primary, got, want, out.String())
		}
		if lines := ev.output[c.Primary+"/write on the old primary during the split"]; len(lines) > 0 {
			t.Errorf("%s: split writes ran again: %v", c.Primary, lines)
		}
		checkDrilled(t, ctx, lab, c, split[c.Primary])
	}
}
