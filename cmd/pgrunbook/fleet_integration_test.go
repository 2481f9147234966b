package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// fleetRun runs testdata/fleet20.yml on lab with base as the hosts' work
// directory and returns the recap and the exit code.
func fleetRun(ctx context.Context, t *testing.T, lab *testenv.Lab, base string, check bool, limit string) (labEvents, int, string) {
	t.Helper()
	files, err := filepath.Abs("testdata/files")
	if err != nil {
		t.Fatal(err)
	}
	opts := runOptions{
		inventory: lab.Inventory, forks: 4, output: "json", check: check, limit: limit,
		extra: []string{"base=" + base, "files=" + files},
	}
	var out bytes.Buffer
	err = runRun(ctx, opts, []string{"testdata/fleet20.yml"}, &out)
	return parseLabEvents(t, out.Bytes()), exitCode(err), out.String()
}

// treeOf lists every path under dir with its mode, so that a test can
// compare a whole tree before and after a run.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.Mode().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestFleetTwentySteps runs twenty steps on four hosts behind a bastion,
// with -f 4: --check first changes nothing, the first run changes what it
// must, and a second run changes nothing.
func TestFleetTwentySteps(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 4, Bastion: true})
	base := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hosts := []string{"pg1", "pg2", "pg3", "pg4"}

	before := treeOf(t, base)
	ev, code, out := fleetRun(ctx, t, lab, base, true, "")
	if code != 0 {
		t.Fatalf("--check: exit %d\n%s", code, out)
	}
	if after := treeOf(t, base); after != before {
		t.Fatalf("--check changed the disk:\nbefore:\n%safter:\n%s", before, after)
	}
	for _, h := range hosts {
		if r := ev.recap[h]; r.Changed == 0 || r.Failed != 0 || r.Unreachable != 0 {
			t.Errorf("--check recap of %s = %+v, want changes reported and no failure", h, r)
		}
	}

	// The first run: 11 steps change something on every host; "only on
	// pg1" is skipped elsewhere.
	ev, code, out = fleetRun(ctx, t, lab, base, false, "")
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	for _, h := range hosts {
		want := runbook.HostRecap{OK: 20, Changed: 11}
		if h != "pg1" {
			want = runbook.HostRecap{OK: 19, Changed: 11, Skipped: 1}
		}
		if got := ev.recap[h]; got != want {
			t.Errorf("first run recap of %s = %+v, want %+v", h, got, want)
		}
		dir := filepath.Join(base, h)
		conf, err := os.ReadFile(filepath.Join(dir, "etc", "postgresql.conf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{"port = 5433", "cluster_name = '" + h + "'", "archive_command = 'test ! -f /arch/%f && cp %p /arch/%f'"} {
			if !strings.Contains(string(conf), line+"\n") {
				t.Errorf("%s postgresql.conf lacks %q:\n%s", h, line, conf)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "marker.done")); err != nil {
			t.Errorf("%s: marker not renamed: %v", h, err)
		}
		fi, err := os.Stat(filepath.Join(dir, "data"))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s data dir: %v %v, want mode 0700", h, fi, err)
		}
	}

	// The second run changes nothing: the marker command is skipped by
	// its creates guard.
	ev, code, out = fleetRun(ctx, t, lab, base, false, "")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	for _, h := range hosts {
		want := runbook.HostRecap{OK: 19, Skipped: 1}
		if h != "pg1" {
			want = runbook.HostRecap{OK: 18, Skipped: 2}
		}
		if got := ev.recap[h]; got != want {
			t.Errorf("second run recap of %s = %+v, want %+v", h, got, want)
		}
	}
}

// TestFleetHostKeyMismatch: a host whose key no longer matches known_hosts
// is refused and reported unreachable (exit 4) with no step run on it, and
// the other hosts finish.
func TestFleetHostKeyMismatch(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 3})
	base := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := lab.ReplaceHostKey(ctx, "pg2"); err != nil {
		t.Fatal(err)
	}
	ev, code, out := fleetRun(ctx, t, lab, base, false, "")
	if code != runbook.ExitUnreachable {
		t.Fatalf("exit %d, want 4\n%s", code, out)
	}
	if !strings.Contains(out, "host key mismatch for pg2") {
		t.Errorf("output does not say the host key of pg2 mismatched:\n%s", out)
	}
	if got := ev.recap["pg2"]; got != (runbook.HostRecap{Unreachable: 1}) {
		t.Errorf("pg2 recap %+v, want unreachable only", got)
	}
	if _, err := os.Stat(filepath.Join(base, "pg2")); !os.IsNotExist(err) {
		t.Errorf("a step ran on the refused host: %s exists (%v)", filepath.Join(base, "pg2"), err)
	}
	for _, h := range []string{"pg1", "pg3"} {
		if r := ev.recap[h]; r.Failed != 0 || r.Unreachable != 0 || r.OK < 19 {
			t.Errorf("%s recap %+v, want it to finish", h, r)
		}
	}
}

// TestFleetSSHDDiesMidRun: a host whose sshd dies while a step runs is
// reported unreachable within the keepalive deadline; the run never hangs
// and the other hosts finish.
func TestFleetSSHDDiesMidRun(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 2})
	dir := t.TempDir()
	playbook := filepath.Join(dir, "slow.yml")
	pb := "name: slow\nhosts: db\nsteps:\n" +
		"  - name: slow\n    command: sleep 4\n" +
		"  - name: after\n    command: 'true'\n"
	if err := os.WriteFile(playbook, []byte(pb), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := &stepWatcher{step: "slow", started: make(chan struct{})}
	go func() {
		<-w.started
		time.Sleep(500 * time.Millisecond)
		if err := lab.StopSSHD(ctx, "pg1"); err != nil {
			t.Errorf("stop sshd: %v", err)
		}
	}()
	start := time.Now()
	err := runRun(ctx, runOptions{inventory: lab.Inventory, forks: 5, output: "json"}, []string{playbook}, w)
	took := time.Since(start)
	if exitCode(err) != runbook.ExitUnreachable {
		t.Fatalf("run: %v (exit %d), want 4\n%s", err, exitCode(err), w.String())
	}
	// Keepalives every 5 s, three missed: the loss is known well within
	// 30 s even when the peer vanishes without a FIN.
	if took > 30*time.Second {
		t.Errorf("run took %v to notice the dead sshd", took)
	}
	ev := parseLabEvents(t, []byte(w.String()))
	if got := ev.recap["pg1"]; got.Unreachable != 1 || got.OK != 0 {
		t.Errorf("pg1 recap %+v, want unreachable in its first step", got)
	}
	if got := ev.recap["pg2"]; got != (runbook.HostRecap{OK: 2, Changed: 2}) {
		t.Errorf("pg2 recap %+v, want both steps done", got)
	}
}
