package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/engine"
	"github.com/pgrunbook/pgrunbook/testenv"
	"github.com/pgrunbook/pgrunbook/testenv/pgcluster"
)

// lineWatcher collects a JSON event stream and calls fn once, on the
// first complete line it is true of.
type lineWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	part  []byte
	fired bool
	match func(line string) bool
	fn    func()
}

// Write keeps p and looks at each complete line.
func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		line := string(w.part[:i])
		w.part = w.part[i+1:]
		if !w.fired && w.match(line) {
			w.fired = true
			go w.fn()
		}
	}
	return len(p), nil
}

// TestRejoinSurvivesADroppedSSHConnection: the old primary's sshd, with
// its open connections, is stopped while rejoin.yml's rewind step copies.
// The run fails; the node is left with the rewind's marker and a fenced
// pg_control, so PostgreSQL refuses to start it; once sshd is back, a
// rerun of the same playbook resumes the rewind and the verify step
// passes, the node a streaming standby with the new primary's data.
func TestRejoinSurvivesADroppedSSHConnection(t *testing.T) {
	t.Parallel()
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2, Bastion: true, Postgres: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := rejoinEngine(t)
	// With the lost-data report on: its steps run before the rewind on
	// the rerun too, against the fenced node.
	opts := runOptions{inventory: lab.Inventory, forks: 5, extra: []string{"engine_binary=" + bin,
		"report_dir=" + t.TempDir(), "salvage_dir=" + t.TempDir()}}
	runPlaybook(t, ctx, opts, drillPlaybook)
	c := lab.Clusters[0]
	old := lab.Host(c.Primary)
	newp := lab.PGCluster(c.NewPrimary())
	// Enough to copy for the drop to land in the middle of it.
	for _, sql := range []string{"CREATE TABLE big AS SELECT g, repeat('x', 300) AS pad FROM generate_series(1, 600000) g", "CHECKPOINT"} {
		if err := newp.Exec(ctx, "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}

	var stopErr error
	stopped := make(chan struct{})
	w := &lineWatcher{
		match: func(line string) bool {
			return strings.Contains(line, `"type":"progress"`) && strings.Contains(line, stepRewind) &&
				strings.Contains(line, `"phase":"copying"`) && !strings.Contains(line, `"done":0,`)
		},
		fn: func() {
			defer close(stopped)
			stopErr = lab.StopSSHD(ctx, c.Primary)
		},
	}
	first := opts
	first.output = "json"
	if err := runRun(ctx, first, []string{rejoinPlaybook}, w); err == nil {
		t.Fatalf("the run whose SSH connection dropped mid-rewind succeeded\n%s", w.buf.String())
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatalf("the rewind step never reported copying\n%s", w.buf.String())
	}
	if stopErr != nil {
		t.Fatal(stopErr)
	}
	// The engine dies with its connection (its next progress line finds
	// the pipe closed); wait for it to be gone before looking.
	pgdata := old.Dirs.DataDir
	waitNoEngine(t, ctx, pgdata)
	if m, err := engine.ReadMarker(pgdata); err != nil || m == nil {
		t.Fatalf("no marker %s after the dropped connection: %v\n%s", engine.MarkerPath(pgdata), err, w.buf.String())
	}
	refused(t, ctx, lab.PGCluster(c.Primary))

	if err := lab.StartSSHD(ctx, c.Primary); err != nil {
		t.Fatal(err)
	}
	out := runPlaybook(t, ctx, opts, rejoinPlaybook)
	if !bytes.Contains(out, []byte("resuming an interrupted rewind started at")) {
		t.Errorf("the rerun's rewind step should say it resumes the interrupted rewind\n%s", out)
	}
	ends := stepEnds(t, out)
	if e := ends[c.Primary+"/report what the rewind throws away"]; e.Status != "skipped" || !strings.Contains(e.Msg, "a rewind was interrupted") {
		t.Errorf("lost_report on the rerun should keep the report written before the interrupted rewind: %+v", e)
	}
	if e := ends[c.Primary+"/"+stepVerify]; e.Status != "ok" {
		t.Fatalf("verify after the rerun: %+v", e)
	}
	if m, err := engine.ReadMarker(pgdata); err != nil || m != nil {
		t.Fatalf("the marker should be gone after the rerun: %+v, %v", m, err)
	}
	checkRejoined(t, ctx, lab, c)
	if got := queryValue(t, ctx, lab.PGCluster(c.Primary), "SELECT count(*) FROM big"); got != "600000" {
		t.Errorf("big has %s rows on the rejoined node", got)
	}
}

// waitNoEngine waits until no process runs a rewind of pgdata.
func waitNoEngine(t *testing.T, ctx context.Context, pgdata string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		busy := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && bytes.Contains(cmdline, []byte("rewind")) && bytes.Contains(cmdline, []byte(pgdata)) {
				busy = true
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("a rewind of %s still runs after its SSH connection dropped", pgdata)
		}
	}
}

// refused checks that the half-rewound node's server refuses to start.
func refused(t *testing.T, ctx context.Context, c *pgcluster.Cluster) {
	t.Helper()
	err := c.Start(ctx)
	if err == nil {
		state := queryValue(t, ctx, c, "SELECT pg_is_in_recovery()")
		c.Stop(ctx, pgcluster.StopImmediate)
		t.Fatalf("the half-rewound node started (in recovery: %s)", state)
	}
	log, _ := os.ReadFile(c.LogFile)
	if !strings.Contains(string(log), "incorrect checksum in control file") {
		t.Fatalf("the node should refuse its fenced pg_control: %v\n%s", err, log)
	}
}
