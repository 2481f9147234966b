package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/testenv"
)

// labPlaybook exercises over real SSH what the executor adds to a step:
// become, register, failed_when, run_once, delegate_to and serial batches.
const labPlaybook = `
name: lab run
hosts: db
become: postgres
serial: 2
steps:
  - name: who
    command: id -un
    register: who
    changed_when: "false"
    failed_when: ne .who.stdout "postgres\n"
  - name: address
    command: hostname -I
    become: ""
    changed_when: "false"
  - name: once
    command: hostname -I
    run_once: true
    register: first
    changed_when: "false"
  - name: seen from pg2
    command: hostname -I
    delegate_to: pg2
    changed_when: "false"
  - name: first host of the batch
    command: "echo {{ .first.stdout | quote }}"
    changed_when: "false"
`

// labEvents is the parsed --output json stream.
type labEvents struct {
	output map[string][]string // "host/step" -> lines
	recap  map[string]runbook.HostRecap
}

func parseLabEvents(t *testing.T, out []byte) labEvents {
	t.Helper()
	ev := labEvents{output: map[string][]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e struct {
			Type, Host, Step, Line string
			Hosts                  map[string]runbook.HostRecap
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		switch e.Type {
		case "output":
			ev.output[e.Host+"/"+e.Step] = append(ev.output[e.Host+"/"+e.Step], e.Line)
		case "recap":
			ev.recap = e.Hosts
		}
	}
	if ev.recap == nil {
		t.Fatalf("no recap in:\n%s", out)
	}
	return ev
}

func TestRunOnTheLab(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 3, Bastion: true})
	dir := t.TempDir()
	playbook := filepath.Join(dir, "lab.yml")
	if err := os.WriteFile(playbook, []byte(labPlaybook), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := func(h string) string { return lab.Host(h).Address }
	opts := runOptions{inventory: lab.Inventory, forks: 5, output: "json"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var out bytes.Buffer
	if err := runRun(ctx, opts, []string{playbook}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	ev := parseLabEvents(t, out.Bytes())
	// A run_once step counts on the host that ran it only.
	for h, ok := range map[string]int{"pg1": 5, "pg2": 4, "pg3": 5} {
		if got := ev.recap[h]; got != (runbook.HostRecap{OK: ok}) {
			t.Errorf("%s recap %+v, want ok=%d", h, got, ok)
		}
		if got := strings.Join(ev.output[h+"/address"], " "); !strings.Contains(got, addr(h)) {
			t.Errorf("%s address step printed %q, want its own address %s", h, got, addr(h))
		}
		if got := strings.Join(ev.output[h+"/seen from pg2"], " "); !strings.Contains(got, addr("pg2")) {
			t.Errorf("%s delegated step printed %q, want pg2's address %s", h, got, addr("pg2"))
		}
	}
	// Batches are pg1,pg2 and pg3: run_once runs on pg1 and on pg3, and
	// pg2 takes pg1's result.
	for h, ranOnce := range map[string]bool{"pg1": true, "pg2": false, "pg3": true} {
		if _, ok := ev.output[h+"/once"]; ok != ranOnce {
			t.Errorf("run_once step printed on %s: %v, want %v", h, ok, ranOnce)
		}
	}
	if got := strings.Join(ev.output["pg2/first host of the batch"], " "); !strings.Contains(got, addr("pg1")) {
		t.Errorf("pg2 registered %q from run_once, want pg1's address %s", got, addr("pg1"))
	}

	// A host whose sshd is gone is unreachable (exit 4); the others run.
	if err := lab.StopSSHD(ctx, "pg3"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := runRun(ctx, opts, []string{playbook}, &out)
	if exitCode(err) != runbook.ExitUnreachable || !strings.Contains(err.Error(), "unreachable: pg3") {
		t.Fatalf("run without pg3's sshd: %v (exit %d), want exit 4\n%s", err, exitCode(err), out.String())
	}
	ev = parseLabEvents(t, out.Bytes())
	if ev.recap["pg3"] != (runbook.HostRecap{Unreachable: 1}) || ev.recap["pg1"] != (runbook.HostRecap{OK: 5}) {
		t.Errorf("recap %+v, want pg3 unreachable and pg1 ok", ev.recap)
	}
}

// stepWatcher collects the output and closes started when it shows a step
// starting.
type stepWatcher struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	step    string
	started chan struct{}
	once    sync.Once
}

func (w *stepWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(`"type":"step_start"`)) && bytes.Contains(p, []byte(`"step":"`+w.step+`"`)) {
		w.once.Do(func() { close(w.started) })
	}
	return w.buf.Write(p)
}

func (w *stepWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestRunInterruptedOnTheLab(t *testing.T) {
	lab := testenv.ForTest(t, testenv.Spec{Hosts: 1})
	dir := t.TempDir()
	playbook := filepath.Join(dir, "sleep.yml")
	const marker = "297.4242"
	pb := "name: sleep\nhosts: db\nsteps:\n  - name: sleep\n    command: sleep " + marker + "\n  - name: after\n    command: 'true'\n"
	if err := os.WriteFile(playbook, []byte(pb), 0o644); err != nil {
		t.Fatal(err)
	}
	sleeping := func() bool {
		out, _ := lab.Exec(context.Background(), "pg1", "pgrep", "-f", "sleep "+marker)
		return len(bytes.TrimSpace(out)) > 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &stepWatcher{step: "sleep", started: make(chan struct{})}
	sawSleep := make(chan bool, 1)
	cancelledAt := make(chan time.Time, 1)
	go func() {
		// Interrupt only once the remote sleep runs, so that the test
		// shows the interruption reaching it.
		<-w.started
		deadline := time.Now().Add(10 * time.Second)
		for !sleeping() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		sawSleep <- sleeping()
		cancelledAt <- time.Now()
		cancel()
	}()
	err := runRun(ctx, runOptions{inventory: lab.Inventory, forks: 5, output: "json"}, []string{playbook}, w)
	returned := time.Now()
	select {
	case saw := <-sawSleep:
		if !saw {
			t.Fatalf("the remote sleep never showed up\n%s", w.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the sleep step never started: %v\n%s", err, w.String())
	}
	if exitCode(err) != runbook.ExitInterrupted {
		t.Fatalf("run: %v (exit %d), want exit 130\n%s", err, exitCode(err), w.String())
	}
	if took := returned.Sub(<-cancelledAt); took > 10*time.Second {
		t.Errorf("run returned %s after the interruption", took)
	}
	if strings.Contains(w.String(), `"step":"after"`) {
		t.Errorf("a step started after the interruption:\n%s", w.String())
	}
	// The remote sleep must be gone too, not left running on the host.
	deadline := time.Now().Add(10 * time.Second)
	for sleeping() {
		if time.Now().After(deadline) {
			t.Fatal("remote sleep still running 10s after the run was interrupted")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
