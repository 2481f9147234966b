package runbook

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// runFake runs pb on inv against lab and returns the recap and the events.
func runFake(t *testing.T, pb *Playbook, inv *Inventory, lab *fakeLab, mod ...func(*RunOptions)) (Recap, *eventLog) {
	t.Helper()
	log := &eventLog{}
	opts := RunOptions{Playbook: pb, Inventory: inv, Connect: lab.connect, Events: log.add}
	for _, m := range mod {
		m(&opts)
	}
	recap, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return recap, log
}

func playbook(steps ...*Step) *Playbook {
	return &Playbook{Name: "test", Hosts: "all", Steps: steps}
}

func when(c string) func(*Step)     { return func(s *Step) { s.When = c } }
func register(r string) func(*Step) { return func(s *Step) { s.Register = r } }
func ignoreErrors(s *Step)          { s.IgnoreErrors = true }
func runOnce(s *Step)               { s.RunOnce = true }

func TestRunCountsStatusesAndExitCode(t *testing.T) {
	l := newFakeLab()
	s := func(name, params string, opts ...func(*Step)) *Step { return fakeStep(t, l, name, params, opts...) }
	tests := []struct {
		name        string
		hosts       int
		unreachable []string
		steps       []*Step
		want        map[string]HostRecap
		wantRan     map[string][]string
		wantIgnored map[string]int
		wantCode    int
	}{
		{
			name:  "ok counts changed steps too",
			hosts: 1,
			steps: []*Step{
				s("a", "{id: a, changed: true}"), s("b", "{id: b, changed: true}"), s("c", "{id: c}"),
				s("d", "{id: d, changed: true}"), s("e", "{id: e, changed: true}"), s("f", "{id: f}"),
				s("g", "{id: g, changed: true}"),
			},
			want:     map[string]HostRecap{"pg1": {OK: 7, Changed: 5}},
			wantRan:  map[string][]string{"pg1": {"a", "b", "c", "d", "e", "f", "g"}},
			wantCode: ExitOK,
		},
		{
			name:     "a step that skips itself",
			hosts:    1,
			steps:    []*Step{s("a", "{id: a, skip: true}"), s("b", "{id: b}")},
			want:     map[string]HostRecap{"pg1": {OK: 1, Skipped: 1}},
			wantRan:  map[string][]string{"pg1": {"a", "b"}},
			wantCode: ExitOK,
		},
		{
			name:     "a failed step stops its host only",
			hosts:    2,
			steps:    []*Step{s("a", "{id: a, fail_on: [pg2]}"), s("b", "{id: b, changed: true}")},
			want:     map[string]HostRecap{"pg1": {OK: 2, Changed: 1}, "pg2": {Failed: 1}},
			wantRan:  map[string][]string{"pg1": {"a", "b"}, "pg2": {"a"}},
			wantCode: ExitFailed,
		},
		{
			name:        "ignore_errors counts the failure but goes on and exits 0",
			hosts:       1,
			steps:       []*Step{s("a", "{id: a, fail_on: [pg1]}", ignoreErrors), s("b", "{id: b}")},
			want:        map[string]HostRecap{"pg1": {OK: 1, Failed: 1}},
			wantRan:     map[string][]string{"pg1": {"a", "b"}},
			wantIgnored: map[string]int{"pg1": 1},
			wantCode:    ExitOK,
		},
		{
			name:        "an unreachable host stops and exits 4",
			hosts:       2,
			unreachable: []string{"pg2"},
			steps:       []*Step{s("a", "{id: a}"), s("b", "{id: b}")},
			want:        map[string]HostRecap{"pg1": {OK: 2}, "pg2": {Unreachable: 1}},
			wantRan:     map[string][]string{"pg1": {"a", "b"}},
			wantCode:    ExitUnreachable,
		},
		{
			name:        "unreachable takes precedence over failed",
			hosts:       2,
			unreachable: []string{"pg2"},
			steps:       []*Step{s("a", "{id: a, fail_on: [pg1]}")},
			want:        map[string]HostRecap{"pg1": {Failed: 1}, "pg2": {Unreachable: 1}},
			wantRan:     map[string][]string{"pg1": {"a"}},
			wantCode:    ExitUnreachable,
		},
		{
			name:     "a connection lost during a step is unreachable, not failed",
			hosts:    2,
			steps:    []*Step{s("a", "{id: a, lose_on: [pg1]}"), s("b", "{id: b}")},
			want:     map[string]HostRecap{"pg1": {Unreachable: 1}, "pg2": {OK: 2}},
			wantRan:  map[string][]string{"pg1": {"a"}, "pg2": {"a", "b"}},
			wantCode: ExitUnreachable,
		},
		{
			name:     "ignore_errors does not ignore an unreachable host",
			hosts:    1,
			steps:    []*Step{s("a", "{id: a, lose_on: [pg1]}", ignoreErrors), s("b", "{id: b}")},
			want:     map[string]HostRecap{"pg1": {Unreachable: 1}},
			wantRan:  map[string][]string{"pg1": {"a"}},
			wantCode: ExitUnreachable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newFakeLab(tt.unreachable...)
			for _, st := range tt.steps {
				st.Kind = fakeKind(lab)
			}
			recap, _ := runFake(t, playbook(tt.steps...), fakeInventory(tt.hosts), lab)
			if !maps.Equal(recap.Hosts, tt.want) {
				t.Errorf("recap = %+v, want %+v", recap.Hosts, tt.want)
			}
			for h := range tt.want {
				if got := lab.ids(h); !slices.Equal(got, tt.wantRan[h]) {
					t.Errorf("%s ran %v, want %v", h, got, tt.wantRan[h])
				}
			}
			if tt.wantIgnored == nil {
				tt.wantIgnored = map[string]int{}
			}
			if !maps.Equal(recap.Ignored, tt.wantIgnored) {
				t.Errorf("ignored = %v, want %v", recap.Ignored, tt.wantIgnored)
			}
			if got := recap.ExitCode(); got != tt.wantCode {
				t.Errorf("exit code = %d, want %d", got, tt.wantCode)
			}
		})
	}
}

func TestRecapExitCode(t *testing.T) {
	tests := []struct {
		name  string
		recap Recap
		want  int
	}{
		{"empty run", Recap{}, ExitOK},
		{"ok", Recap{Order: []string{"a"}, Hosts: map[string]HostRecap{"a": {OK: 3, Changed: 1}}}, ExitOK},
		{"failed", Recap{Order: []string{"a"}, Hosts: map[string]HostRecap{"a": {Failed: 1}}}, ExitFailed},
		{"ignored", Recap{Order: []string{"a"}, Hosts: map[string]HostRecap{"a": {Failed: 2}},
			Ignored: map[string]int{"a": 2}}, ExitOK},
		{"ignored and failed", Recap{Order: []string{"a"}, Hosts: map[string]HostRecap{"a": {Failed: 2}},
			Ignored: map[string]int{"a": 1}}, ExitFailed},
		{"unreachable wins", Recap{Order: []string{"a", "b"},
			Hosts: map[string]HostRecap{"a": {Failed: 1}, "b": {Unreachable: 1}}}, ExitUnreachable},
		{"aborted", Recap{Aborted: "budget"}, ExitFailed},
		{"interrupted wins", Recap{Order: []string{"b"}, Hosts: map[string]HostRecap{"b": {Unreachable: 1}},
			Interrupted: true}, ExitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.recap.ExitCode(); got != tt.want {
				t.Errorf("ExitCode() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRunConnectsOncePerHostLazilyAndClosesAtEnd(t *testing.T) {
	lab := newFakeLab()
	pb := playbook(
		fakeStep(t, lab, "never on pg2", "{id: a}", when(`eq .inventory_hostname "pg1"`)),
		fakeStep(t, lab, "b", "{id: b}", when(`eq .inventory_hostname "pg1"`)),
		fakeStep(t, lab, "c", "{id: c}", when(`eq .inventory_hostname "pg1"`)),
	)
	recap, _ := runFake(t, pb, fakeInventory(2), lab)
	if recap.ExitCode() != ExitOK {
		t.Fatalf("exit code %d, recap %+v", recap.ExitCode(), recap.Hosts)
	}
	if !maps.Equal(lab.dials, map[string]int{"pg1": 1}) {
		t.Errorf("dials = %v, want pg1 once and pg2 (all steps skipped) never", lab.dials)
	}
	if got := recap.Hosts["pg2"]; got != (HostRecap{Skipped: 3}) {
		t.Errorf("pg2 = %+v, want 3 skipped", got)
	}
	for _, c := range lab.conns {
		if c.closed != 1 {
			t.Errorf("connection to %s closed %d times, want 1", c.host, c.closed)
		}
	}
	if got := lab.connVars["pg1"]["address"]; got != "10.77.0.11" {
		t.Errorf("connect got address %v, want the host's merged vars", got)
	}
}

func TestRunForks(t *testing.T) {
	tests := []struct {
		forks, hosts, want int
	}{
		{forks: 1, hosts: 3, want: 1},
		{forks: 2, hosts: 5, want: 2},
		{forks: 0, hosts: 8, want: DefaultForks},
		{forks: 10, hosts: 3, want: 3},
	}
	for _, tt := range tests {
		lab := newFakeLab()
		pb := playbook(fakeStep(t, lab, "a", "{id: a, sleep: 50ms}"))
		recap, _ := runFake(t, pb, fakeInventory(tt.hosts), lab, func(o *RunOptions) { o.Forks = tt.forks })
		if recap.ExitCode() != ExitOK {
			t.Fatalf("forks %d: exit code %d", tt.forks, recap.ExitCode())
		}
		if lab.maxRunning != tt.want {
			t.Errorf("forks %d, %d hosts: %d ran at once, want %d", tt.forks, tt.hosts, lab.maxRunning, tt.want)
		}
	}
}

func TestBatches(t *testing.T) {
	tests := []struct {
		serial string
		hosts  int
		want   []int
		err    string
	}{
		{serial: "", hosts: 5, want: []int{5}},
		{serial: "0", hosts: 5, want: []int{5}},
		{serial: "2", hosts: 5, want: []int{2, 2, 1}},
		{serial: "9", hosts: 5, want: []int{5}},
		{serial: "40%", hosts: 5, want: []int{2, 2, 1}},
		{serial: "10%", hosts: 5, want: []int{1, 1, 1, 1, 1}},
		{serial: "50%", hosts: 3, want: []int{1, 1, 1}},
		{serial: "100%", hosts: 4, want: []int{4}},
		{serial: "1,2,50%", hosts: 10, want: []int{1, 2, 5, 2}},
		{serial: "abc", hosts: 3, err: `serial "abc": "abc" is neither a host count nor a percentage`},
		{serial: "150%", hosts: 3, err: "not a percentage"},
		{serial: "-1", hosts: 3, err: "neither a host count"},
	}
	for _, tt := range tests {
		hosts := make([]*Host, tt.hosts)
		for i := range hosts {
			hosts[i] = &Host{Name: string(rune('a' + i))}
		}
		got, err := Batches(hosts, tt.serial)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Batches(%q) error = %v, want %q", tt.serial, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Batches(%q): %v", tt.serial, err)
			continue
		}
		var sizes []int
		var flat []*Host
		for _, b := range got {
			sizes = append(sizes, len(b))
			flat = append(flat, b...)
		}
		if !slices.Equal(sizes, tt.want) || !slices.Equal(flat, hosts) {
			t.Errorf("Batches(%q, %d hosts) sizes = %v, want %v (in order)", tt.serial, tt.hosts, sizes, tt.want)
		}
	}
}

func TestRunSerialBatchesRunOneAfterAnother(t *testing.T) {
	for _, fromPlaybook := range []bool{true, false} {
		lab := newFakeLab()
		pb := playbook(fakeStep(t, lab, "a", "{id: a, sleep: 5ms}"), fakeStep(t, lab, "b", "{id: b, sleep: 5ms}"))
		mod := func(o *RunOptions) { o.Serial = "2" }
		if fromPlaybook {
			pb.Serial = "2"
			mod = func(o *RunOptions) {}
		}
		recap, _ := runFake(t, pb, fakeInventory(5), lab, mod)
		if recap.ExitCode() != ExitOK {
			t.Fatalf("exit code %d", recap.ExitCode())
		}
		batchOf := map[string]int{"pg1": 0, "pg2": 0, "pg3": 1, "pg4": 1, "pg5": 2}
		last := -1
		for i, r := range lab.ran {
			b := batchOf[r.Host]
			if b < last {
				t.Fatalf("step %d (%s on %s, batch %d) ran after a step of batch %d: %v", i, r.ID, r.Host, b, last, lab.ran)
			}
			last = b
		}
		if len(lab.ran) != 10 || lab.maxRunning > 2 {
			t.Errorf("ran %d steps with up to %d hosts at once, want 10 and at most 2", len(lab.ran), lab.maxRunning)
		}
	}
}

func TestRunMaxFailPercentageOverTheWholeRun(t *testing.T) {
	pct := func(f float64) *float64 { return &f }
	tests := []struct {
		name        string
		maxFail     *float64
		serial      string
		hosts       int
		failOn      string
		unreachable []string
		ignore      bool
		wantStarted []string
		wantAborted bool
		wantCode    int
	}{
		{
			// Per batch this is 50% every time; over the run the budget of
			// 20% of 10 hosts is spent only by the third failure.
			name: "budget spent across batches", maxFail: pct(20), serial: "2", hosts: 10,
			failOn:      "[pg1, pg3, pg5, pg7]",
			wantStarted: []string{"pg1", "pg2", "pg3", "pg4", "pg5", "pg6"},
			wantAborted: true, wantCode: ExitFailed,
		},
		{
			name: "zero percent stops after the first failing batch", maxFail: pct(0), serial: "1", hosts: 4,
			failOn: "[pg2]", wantStarted: []string{"pg1", "pg2"}, wantAborted: true, wantCode: ExitFailed,
		},
		{
			name: "unreachable hosts count", maxFail: pct(0), serial: "1", hosts: 3,
			unreachable: []string{"pg1"}, failOn: "[]", wantStarted: []string{"pg1"}, wantAborted: true,
			wantCode: ExitUnreachable,
		},
		{
			name: "ignored failures do not count", maxFail: pct(0), serial: "1", hosts: 3,
			failOn: "[pg1, pg2, pg3]", ignore: true, wantStarted: []string{"pg1", "pg2", "pg3"}, wantCode: ExitOK,
		},
		{
			name: "without max_fail_percentage every batch runs", serial: "1", hosts: 3,
			failOn: "[pg1, pg2]", wantStarted: []string{"pg1", "pg2", "pg3"}, wantCode: ExitFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newFakeLab(tt.unreachable...)
			opts := []func(*Step){}
			if tt.ignore {
				opts = append(opts, ignoreErrors)
			}
			pb := playbook(fakeStep(t, lab, "a", "{id: a, fail_on: "+tt.failOn+"}", opts...))
			pb.Serial = tt.serial
			pb.MaxFailPercentage = tt.maxFail
			recap, _ := runFake(t, pb, fakeInventory(tt.hosts), lab)
			var started []string
			for _, h := range recap.Order {
				if recap.Hosts[h] != (HostRecap{}) {
					started = append(started, h)
				}
			}
			if !slices.Equal(started, tt.wantStarted) {
				t.Errorf("started %v, want %v", started, tt.wantStarted)
			}
			if got := len(recap.Hosts); got != tt.hosts {
				t.Errorf("recap lists %d hosts, want all %d", got, tt.hosts)
			}
			if (recap.Aborted != "") != tt.wantAborted {
				t.Errorf("aborted = %q, want aborted %v", recap.Aborted, tt.wantAborted)
			}
			if tt.wantAborted && len(recap.NotStarted) != tt.hosts-len(tt.wantStarted) {
				t.Errorf("not started = %v", recap.NotStarted)
			}
			if got := recap.ExitCode(); got != tt.wantCode {
				t.Errorf("exit code %d, want %d", got, tt.wantCode)
			}
		})
	}
}

func TestRunErrorsBeforeAnythingRuns(t *testing.T) {
	lab := newFakeLab()
	tests := []struct {
		name string
		mod  func(*RunOptions)
		want string
	}{
		{"negative forks", func(o *RunOptions) { o.Forks = -1 }, "forks must be at least 1"},
		{"bad serial", func(o *RunOptions) { o.Serial = "x%" }, `serial "x%"`},
		{"unknown start step", func(o *RunOptions) { o.StartAt = "nope" }, `start at step "nope": no such step (steps: "a")`},
		{"limit matches nothing", func(o *RunOptions) { o.Limit = "pg2" }, `limited to "pg2" matches no host`},
		{"bad pattern", func(o *RunOptions) { o.Playbook.Hosts = "nosuch" }, `select hosts "nosuch"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := fakeInventory(2)
			inv.Groups["db"] = &Group{Name: "db", Hosts: []string{"pg1"}}
			pb := playbook(fakeStep(t, lab, "a", "{id: a}"))
			pb.Hosts = "db"
			opts := RunOptions{Playbook: pb, Inventory: inv, Connect: lab.connect}
			tt.mod(&opts)
			_, err := Run(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want %q", err, tt.want)
			}
		})
	}
	if len(lab.ran) != 0 || len(lab.dials) != 0 {
		t.Errorf("something ran: %v %v", lab.ran, lab.dials)
	}
}

func TestRunLimit(t *testing.T) {
	lab := newFakeLab()
	inv := fakeInventory(4)
	pb := playbook(fakeStep(t, lab, "a", "{id: a}"))
	pb.Hosts = "pg1,pg2,pg3"
	recap, _ := runFake(t, pb, inv, lab, func(o *RunOptions) { o.Limit = "pg2:pg3:pg4" })
	if !slices.Equal(recap.Order, []string{"pg2", "pg3"}) {
		t.Errorf("hosts = %v, want pg2 pg3", recap.Order)
	}
}

func TestRunCancelReturnsPromptly(t *testing.T) {
	lab := newFakeLab()
	pb := playbook(fakeStep(t, lab, "wait", "{id: wait, block: true}"), fakeStep(t, lab, "after", "{id: after}"))
	pb.Serial = "2"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &eventLog{}
	started := make(chan struct{}, 4)
	events := func(e Event) {
		log.add(e)
		if e.Type == EventStepStart {
			started <- struct{}{}
		}
	}
	done := make(chan Recap)
	go func() {
		r, err := Run(ctx, RunOptions{Playbook: pb, Inventory: fakeInventory(4), Connect: lab.connect, Events: events})
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- r
	}()
	<-started
	<-started
	cancel()
	var recap Recap
	select {
	case recap = <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of cancellation")
	}
	if got := recap.ExitCode(); got != ExitInterrupted {
		t.Errorf("exit code %d, want %d", got, ExitInterrupted)
	}
	if !slices.Equal(recap.NotStarted, []string{"pg3", "pg4"}) {
		t.Errorf("not started = %v, want pg3 pg4", recap.NotStarted)
	}
	if got := lab.ids("pg1"); len(got) != 0 {
		t.Errorf("pg1 ran %v after cancellation", got)
	}
	if e := log.end("pg1", "wait"); e.Status != StatusFailed || !strings.Contains(e.Msg, "interrupted") {
		t.Errorf("pg1 wait ended %+v, want failed: interrupted", e)
	}
	last := log.events[len(log.events)-1]
	if last.Type != EventRecap || last.Msg != "interrupted" {
		t.Errorf("last event %v %q, want the recap saying interrupted", last.Type, last.Msg)
	}
}
