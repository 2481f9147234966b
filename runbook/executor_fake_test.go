package runbook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// fakeLab stands in for a fleet: it hands out fake connections, refuses
// some hosts, and records what every fake step did.
type fakeLab struct {
	mu          sync.Mutex
	unreachable map[string]bool
	dials       map[string]int
	conns       []*fakeConn
	ran         []ranStep
	attempts    map[string]int
	running     int
	maxRunning  int
	connVars    map[string]map[string]any
}

// ranStep is one run of a fake action.
type ranStep struct {
	ID     string
	Host   string // Target.Host: the delegate under delegate_to
	On     string // the host whose connection it ran on
	Become string
	Check  bool
	Diff   bool
	Echo   string
}

func newFakeLab(unreachable ...string) *fakeLab {
	l := &fakeLab{unreachable: map[string]bool{}, dials: map[string]int{}, attempts: map[string]int{},
		connVars: map[string]map[string]any{}}
	for _, h := range unreachable {
		l.unreachable[h] = true
	}
	return l
}

func (l *fakeLab) connect(ctx context.Context, h *Host, vars map[string]any) (transport.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dials[h.Name]++
	l.connVars[h.Name] = vars
	if l.unreachable[h.Name] {
		return nil, fmt.Errorf("dial %s: connection refused: %w", h.Name, transport.ErrUnreachable)
	}
	c := &fakeConn{host: h.Name}
	l.conns = append(l.conns, c)
	return c, nil
}

func (l *fakeLab) ids(host string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.ran {
		if r.Host == host {
			out = append(out, r.ID)
		}
	}
	return out
}

func (l *fakeLab) find(host, id string) (ranStep, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.ran {
		if r.Host == host && r.ID == id {
			return r, true
		}
	}
	return ranStep{}, false
}

// fakeConn is a connection that only knows whether it was closed.
type fakeConn struct {
	host   string
	mu     sync.Mutex
	closed int
}

func (c *fakeConn) Exec(ctx context.Context, cmd transport.Command) (transport.Result, error) {
	return transport.Result{}, errors.New("fake conn: exec not supported")
}

func (c *fakeConn) Upload(ctx context.Context, r io.Reader, dest string, mode fs.FileMode) error {
	return errors.New("fake conn: upload not supported")
}

func (c *fakeConn) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, errors.New("fake conn: dial not supported")
}

func (c *fakeConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed++
	return nil
}

// fakeAction is the one fake step kind; its parameters say what to do.
type fakeAction struct {
	lab *fakeLab

	ID       string         `yaml:"id"`
	Changed  bool           `yaml:"changed"`
	Skip     bool           `yaml:"skip"`
	Msg      string         `yaml:"msg"`
	RC       int            `yaml:"rc"`
	Echo     string         `yaml:"echo"`
	FailOn   []string       `yaml:"fail_on"`
	LoseOn   []string       `yaml:"lose_on"`
	Sleep    time.Duration  `yaml:"sleep"`
	Block    bool           `yaml:"block"`
	Lines    []string       `yaml:"lines"`
	Progress bool           `yaml:"progress"`
	Facts    map[string]any `yaml:"facts"`
	// SucceedAt fails every attempt before this one (per host and id).
	SucceedAt int  `yaml:"succeed_at"`
	Diff      bool `yaml:"diff"`
}

func (a *fakeAction) Run(ctx context.Context, t *Target) (Outcome, error) {
	l := a.lab
	conn := t.Conn.(*fakeConn)
	host := t.Host.Name
	l.mu.Lock()
	l.running++
	l.maxRunning = max(l.maxRunning, l.running)
	key := host + "/" + a.ID
	l.attempts[key]++
	attempt := l.attempts[key]
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running--
		l.mu.Unlock()
	}()
	for _, line := range a.Lines {
		t.Output("stdout", line)
	}
	if a.Progress {
		t.Progress(Progress{Phase: "copy", Done: 50, Total: 100, Unit: "bytes"})
		t.Progress(Progress{Phase: "copy", Done: 100, Total: 100, Unit: "bytes"})
	}
	if a.Sleep > 0 && !sleepCtx(ctx, a.Sleep) {
		return Outcome{}, fmt.Errorf("fake %s: %w", a.ID, ctx.Err())
	}
	if a.Block {
		<-ctx.Done()
		return Outcome{}, fmt.Errorf("fake %s: %w", a.ID, ctx.Err())
	}
	l.mu.Lock()
	l.ran = append(l.ran, ranStep{ID: a.ID, Host: t.Host.Name, On: conn.host, Become: t.Become,
		Check: t.Check, Diff: t.Diff, Echo: a.Echo})
	l.mu.Unlock()
	out := Outcome{Changed: a.Changed, Skipped: a.Skip, Msg: a.Msg, RC: a.RC, Stdout: a.Echo, Facts: a.Facts}
	if a.Diff && t.Diff {
		out.Diffs = []FileDiff{{Path: "/etc/x.conf", Before: "a\nb\n", After: "a\nc\n"}}
	}
	if slices.Contains(a.LoseOn, conn.host) {
		return out, fmt.Errorf("fake %s: connection lost: %w", a.ID, transport.ErrUnreachable)
	}
	if slices.Contains(a.FailOn, host) || (a.SucceedAt > 0 && attempt < a.SucceedAt) {
		if out.RC == 0 {
			out.RC = 1
		}
		return out, fmt.Errorf("fake %s: exited with status %d", a.ID, out.RC)
	}
	return out, nil
}

// fakeKind returns the fake step kind wired to lab.
func fakeKind(l *fakeLab) *Kind {
	return &Kind{Name: "fake", New: func() Action { return &fakeAction{lab: l} }}
}

// fakeStep builds a step of the fake kind from YAML parameters and options.
func fakeStep(t testing.TB, l *fakeLab, name, params string, opts ...func(*Step)) *Step {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(params), &doc); err != nil {
		t.Fatalf("fake step %q params: %v", name, err)
	}
	s := &Step{Name: name, Kind: fakeKind(l), Params: doc.Content[0]}
	for _, o := range opts {
		o(s)
	}
	return s
}

// fakeInventory has hosts pg1..pgN in group all, each with an address.
func fakeInventory(n int) *Inventory {
	inv := &Inventory{Hosts: map[string]*Host{}, Groups: map[string]*Group{"all": {Name: "all"}}}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("pg%d", i)
		inv.Hosts[name] = &Host{Name: name, Vars: map[string]any{"address": fmt.Sprintf("10.77.0.%d", 10+i)},
			Groups: []string{"all"}}
		inv.Groups["all"].Hosts = append(inv.Groups["all"].Hosts, name)
	}
	return inv
}

// eventLog collects events; Run serializes delivery, the lock is for the
// test's own reads.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
}

// of returns the events of one host, as "type step status" strings.
func (e *eventLog) of(host string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		if ev.Host != host {
			continue
		}
		s := string(ev.Type) + " " + ev.Step
		switch ev.Type {
		case EventStepEnd:
			s += " " + string(ev.Status)
			if ev.Ignored {
				s += " ignored"
			}
		case EventOutput:
			s += " " + ev.Stream + ":" + ev.Line
		case EventProgress:
			s += fmt.Sprintf(" %s %d/%d", ev.Progress.Phase, ev.Progress.Done, ev.Progress.Total)
		}
		out = append(out, s)
	}
	return out
}

func (e *eventLog) end(host, step string) Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if ev.Host == host && ev.Step == step && ev.Type == EventStepEnd {
			return ev
		}
	}
	return Event{}
}

func joinLines(s []string) string { return strings.Join(s, "\n") }
