package runbook

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWhenAndRegister(t *testing.T) {
	lab := newFakeLab()
	pb := playbook(
		fakeStep(t, lab, "probe", "{id: probe, echo: primary, facts: {role: primary}}", register("r")),
		fakeStep(t, lab, "if primary", "{id: p}", when(`eq .r.stdout "primary"`)),
		fakeStep(t, lab, "if standby", "{id: s}", when(`eq .r.role "standby"`), register("sb")),
		fakeStep(t, lab, "templated", `{id: t, echo: "{{ .r.rc }}-{{ .r.role }}-{{ .r.changed }}"}`),
		fakeStep(t, lab, "after skipped", "{id: k}", when(".sb.skipped")),
	)
	recap, log := runFake(t, pb, fakeInventory(1), lab)
	if got := lab.ids("pg1"); !slices.Equal(got, []string{"probe", "p", "t", "k"}) {
		t.Errorf("ran %v, want probe p t k", got)
	}
	if r, _ := lab.find("pg1", "t"); r.Echo != "0-primary-false" {
		t.Errorf("templated step saw %q, want 0-primary-false", r.Echo)
	}
	if got := recap.Hosts["pg1"]; got != (HostRecap{OK: 4, Skipped: 1}) {
		t.Errorf("recap %+v", got)
	}
	if e := log.end("pg1", "if standby"); e.Status != StatusSkipped || !strings.Contains(e.Msg, "condition is false") {
		t.Errorf("skipped step ended %+v", e)
	}
}

func TestWhenErrorFailsTheStep(t *testing.T) {
	lab := newFakeLab()
	pb := playbook(fakeStep(t, lab, "a", "{id: a}", when(".nosuch.field")), fakeStep(t, lab, "b", "{id: b}"))
	recap, log := runFake(t, pb, fakeInventory(1), lab)
	if recap.ExitCode() != ExitFailed || len(lab.ran) != 0 {
		t.Fatalf("exit %d, ran %v", recap.ExitCode(), lab.ran)
	}
	if e := log.end("pg1", "a"); !strings.HasPrefix(e.Msg, `when: condition ".nosuch.field"`) {
		t.Errorf("msg %q, want the condition named", e.Msg)
	}
}

func TestBecome(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name      string
		playbook  string
		step      *string
		want      string
		wantError string
	}{
		{name: "playbook default", playbook: "postgres", want: "postgres"},
		{name: "step overrides", playbook: "postgres", step: str("root"), want: "root"},
		{name: "step says login user", playbook: "postgres", step: str(""), want: ""},
		{name: "no become", want: ""},
		{name: "templated", step: str("{{ .dbuser }}"), want: "pgadmin"},
		{name: "template error", step: str("{{ .nobody }}"), wantError: `become "{{ .nobody }}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newFakeLab()
			pb := playbook(fakeStep(t, lab, "a", "{id: a}", func(s *Step) { s.Become = tt.step }))
			pb.Become = tt.playbook
			inv := fakeInventory(1)
			inv.Hosts["pg1"].Vars["dbuser"] = "pgadmin"
			_, log := runFake(t, pb, inv, lab)
			if tt.wantError != "" {
				if e := log.end("pg1", "a"); e.Status != StatusFailed || !strings.Contains(e.Msg, tt.wantError) {
					t.Errorf("ended %+v, want failure %q", e, tt.wantError)
				}
				return
			}
			r, ok := lab.find("pg1", "a")
			if !ok || r.Become != tt.want {
				t.Errorf("become = %q (ran %v), want %q", r.Become, ok, tt.want)
			}
		})
	}
}

func TestRetriesAndUntil(t *testing.T) {
	tests := []struct {
		name         string
		params       string
		retries      int
		delay        time.Duration
		until        string
		wantStatus   Status
		wantAttempts int
		wantMsg      string
		minDuration  time.Duration
	}{
		{name: "retries until the step succeeds", params: "{id: a, succeed_at: 3}", retries: 3,
			wantStatus: StatusOK, wantAttempts: 3},
		{name: "retries run out", params: "{id: a, succeed_at: 5}", retries: 1,
			wantStatus: StatusFailed, wantAttempts: 2, wantMsg: "exited with status 1"},
		{name: "until defaults to three retries", params: "{id: a, succeed_at: 9}", until: "eq .r.rc 0",
			wantStatus: StatusFailed, wantAttempts: 4, wantMsg: `until "eq .r.rc 0" still false after 4 attempts`},
		{name: "until met", params: "{id: a, succeed_at: 2}", until: "eq .r.rc 0",
			wantStatus: StatusOK, wantAttempts: 2},
		{name: "until met on a failed result keeps the failure", params: "{id: a, succeed_at: 9}",
			until: "eq .r.rc 1", retries: 3, wantStatus: StatusFailed, wantAttempts: 1},
		{name: "until on a successful step", params: "{id: a, changed: true}", until: "not .r.changed", retries: 2,
			wantStatus: StatusFailed, wantAttempts: 3, wantMsg: "still false after 3 attempts"},
		{name: "delay between attempts", params: "{id: a, succeed_at: 3}", retries: 2, delay: 20 * time.Millisecond,
			wantStatus: StatusOK, wantAttempts: 3, minDuration: 40 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newFakeLab()
			pb := playbook(fakeStep(t, lab, "a", tt.params, register("r"), func(s *Step) {
				s.Retries, s.Delay, s.Until = tt.retries, tt.delay, tt.until
			}))
			start := time.Now()
			_, log := runFake(t, pb, fakeInventory(1), lab)
			took := time.Since(start)
			e := log.end("pg1", "a")
			if e.Status != tt.wantStatus || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Errorf("ended %s %q, want %s %q", e.Status, e.Msg, tt.wantStatus, tt.wantMsg)
			}
			if got := lab.attempts["pg1/a"]; got != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", got, tt.wantAttempts)
			}
			retries := 0
			for _, l := range log.of("pg1") {
				if strings.HasPrefix(l, "output a retry:") {
					retries++
				}
			}
			if retries != tt.wantAttempts-1 {
				t.Errorf("%d retry notes, want %d", retries, tt.wantAttempts-1)
			}
			if took < tt.minDuration {
				t.Errorf("took %s, want at least %s of delays", took, tt.minDuration)
			}
		})
	}
}

func TestChangedWhenAndFailedWhen(t *testing.T) {
	tests := []struct {
		name        string
		params      string
		changedWhen string
		failedWhen  string
		wantStatus  Status
		wantMsg     string
		wantNext    bool
	}{
		{name: "changed_when false", params: "{id: a, changed: true}", changedWhen: "false",
			wantStatus: StatusOK, wantNext: true},
		{name: "changed_when on the result", params: "{id: a, echo: x}", changedWhen: `eq .r.stdout "x"`,
			wantStatus: StatusChanged, wantNext: true},
		{name: "failed_when forgives an exit status", params: "{id: a, rc: 1, fail_on: [pg1]}",
			failedWhen: "gt .r.rc 1", wantStatus: StatusOK, wantNext: true},
		{name: "failed_when fails a success", params: "{id: a, echo: bad, msg: done}",
			failedWhen: `eq .r.stdout "bad"`, wantStatus: StatusFailed,
			wantMsg: `failed_when is true: eq .r.stdout "bad": done`},
		{name: "failed_when that cannot be evaluated", params: "{id: a}", failedWhen: ".r.nosuch.x",
			wantStatus: StatusFailed, wantMsg: `failed_when: condition ".r.nosuch.x"`},
		{name: "changed_when that cannot be evaluated", params: "{id: a}", changedWhen: "(",
			wantStatus: StatusFailed, wantMsg: `changed_when: condition "("`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newFakeLab()
			pb := playbook(
				fakeStep(t, lab, "a", tt.params, register("r"), func(s *Step) {
					s.ChangedWhen, s.FailedWhen = tt.changedWhen, tt.failedWhen
				}),
				fakeStep(t, lab, "next", `{id: next, echo: "{{ .r.failed }}"}`),
			)
			_, log := runFake(t, pb, fakeInventory(1), lab)
			e := log.end("pg1", "a")
			if e.Status != tt.wantStatus || !strings.Contains(e.Msg, tt.wantMsg) {
				t.Errorf("ended %s %q, want %s %q", e.Status, e.Msg, tt.wantStatus, tt.wantMsg)
			}
			next, ran := lab.find("pg1", "next")
			if ran != tt.wantNext {
				t.Errorf("next step ran = %v, want %v", ran, tt.wantNext)
			}
			if ran && next.Echo != "false" {
				t.Errorf("registered failed = %q, want false", next.Echo)
			}
		})
	}
}

func TestRunOnce(t *testing.T) {
	tests := []struct {
		name      string
		hosts     int
		serial    string
		forks     int
		steps     func(t *testing.T, l *fakeLab) []*Step
		wantOnce  []string          // hosts the once step ran on
		wantSeen  map[string]string // host -> what the step after saw
		wantCode  int
		wantCount map[string]HostRecap
	}{
		{
			name:  "runs on the first host and every host gets its result",
			hosts: 3,
			steps: func(t *testing.T, l *fakeLab) []*Step {
				return []*Step{
					fakeStep(t, l, "once", `{id: once, echo: "{{ .inventory_hostname }}", changed: true}`, runOnce, register("o")),
					fakeStep(t, l, "after", `{id: after, echo: "{{ .o.stdout }}"}`),
				}
			},
			wantOnce:  []string{"pg1"},
			wantSeen:  map[string]string{"pg1": "pg1", "pg2": "pg1", "pg3": "pg1"},
			wantCount: map[string]HostRecap{"pg1": {OK: 2, Changed: 1}, "pg2": {OK: 1}, "pg3": {OK: 1}},
		},
		{
			name:  "with forks 1 there is no deadlock",
			hosts: 3, forks: 1,
			steps: func(t *testing.T, l *fakeLab) []*Step {
				return []*Step{
					fakeStep(t, l, "before", `{id: before, sleep: 5ms}`),
					fakeStep(t, l, "once", `{id: once, echo: "{{ .inventory_hostname }}"}`, runOnce, register("o")),
					fakeStep(t, l, "after", `{id: after, echo: "{{ .o.stdout }}"}`),
				}
			},
			wantOnce: []string{"pg1"},
			wantSeen: map[string]string{"pg1": "pg1", "pg2": "pg1", "pg3": "pg1"},
		},
		{
			name:  "the next host takes over when the first stopped before",
			hosts: 3,
			steps: func(t *testing.T, l *fakeLab) []*Step {
				return []*Step{
					fakeStep(t, l, "breaks pg1", `{id: b, fail_on: [pg1]}`),
					fakeStep(t, l, "once", `{id: once, echo: "{{ .inventory_hostname }}"}`, runOnce, register("o")),
					fakeStep(t, l, "after", `{id: after, echo: "{{ .o.stdout }}"}`),
				}
			},
			wantOnce: []string{"pg2"},
			wantSeen: map[string]string{"pg2": "pg2", "pg3": "pg2"},
			wantCode: ExitFailed,
		},
		{
			name:  "once per serial batch",
			hosts: 4, serial: "2",
			steps: func(t *testing.T, l *fakeLab) []*Step {
				return []*Step{
					fakeStep(t, l, "once", `{id: once, echo: "{{ .inventory_hostname }}"}`, runOnce, register("o")),
					fakeStep(t, l, "after", `{id: after, echo: "{{ .o.stdout }}"}`),
				}
			},
			wantOnce: []string{"pg1", "pg3"},
			wantSeen: map[string]string{"pg1": "pg1", "pg2": "pg1", "pg3": "pg3", "pg4": "pg3"},
		},
		{
			name:  "a failed run_once step fails the whole batch",
			hosts: 3,
			steps: func(t *testing.T, l *fakeLab) []*Step {
				return []*Step{
					fakeStep(t, l, "once", `{id: once, fail_on: [pg1]}`, runOnce),
					fakeStep(t, l, "after", `{id: after}`),
				}
			},
			wantOnce:  []string{"pg1"},
			wantSeen:  map[string]string{},
			wantCode:  ExitFailed,
			wantCount: map[string]HostRecap{"pg1": {Failed: 1}, "pg2": {Failed: 1}, "pg3": {Failed: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newFakeLab()
			pb := playbook(tt.steps(t, lab)...)
			pb.Serial = tt.serial
			recap, log := runFake(t, pb, fakeInventory(tt.hosts), lab, func(o *RunOptions) { o.Forks = tt.forks })
			var once []string
			seen := map[string]string{}
			for _, r := range lab.ran {
				switch r.ID {
				case "once":
					once = append(once, r.Host)
				case "after":
					seen[r.Host] = r.Echo
				}
			}
			if !slices.Equal(once, tt.wantOnce) {
				t.Errorf("once ran on %v, want %v", once, tt.wantOnce)
			}
			if len(seen) != len(tt.wantSeen) {
				t.Errorf("after saw %v, want %v", seen, tt.wantSeen)
			}
			for h, w := range tt.wantSeen {
				if seen[h] != w {
					t.Errorf("%s saw %q, want %q", h, seen[h], w)
				}
			}
			if got := recap.ExitCode(); got != tt.wantCode {
				t.Errorf("exit %d, want %d", got, tt.wantCode)
			}
			for h, w := range tt.wantCount {
				if recap.Hosts[h] != w {
					t.Errorf("%s recap %+v, want %+v", h, recap.Hosts[h], w)
				}
			}
			if tt.wantCode == ExitFailed && len(tt.wantCount) > 0 {
				if e := log.end("pg2", "once"); !strings.Contains(e.Msg, "run_once step failed on pg1") {
					t.Errorf("pg2's once step ended %+v", e)
				}
			}
		})
	}
}

func TestDelegateTo(t *testing.T) {
	lab := newFakeLab("pg4")
	inv := fakeInventory(4)
	inv.Groups["all"].Vars = map[string]any{"primary": "pg3"}
	pb := playbook(
		fakeStep(t, lab, "own", `{id: own}`),
		fakeStep(t, lab, "on the primary", `{id: d, echo: "{{ .inventory_hostname }} {{ .address }}"}`,
			func(s *Step) { s.DelegateTo = "{{ .primary }}" }),
	)
	pb.Hosts = "pg1,pg2"
	recap, _ := runFake(t, pb, inv, lab)
	if recap.ExitCode() != ExitOK {
		t.Fatalf("exit %d: %+v", recap.ExitCode(), recap.Hosts)
	}
	var got []string
	for _, r := range lab.ran {
		if r.ID == "d" {
			got = append(got, r.On+"/"+r.Host+"/"+r.Echo)
		}
	}
	slices.Sort(got)
	want := []string{"pg3/pg3/pg1 10.77.0.11", "pg3/pg3/pg2 10.77.0.12"}
	if !slices.Equal(got, want) {
		t.Errorf("delegated runs (conn/target/templated) = %v, want %v", got, want)
	}
	if lab.dials["pg3"] != 1 || lab.connVars["pg3"]["address"] != "10.77.0.13" {
		t.Errorf("pg3 dialled %d times with %v, want once with its own address", lab.dials["pg3"], lab.connVars["pg3"]["address"])
	}
	if _, ok := recap.Hosts["pg3"]; ok {
		t.Errorf("the delegate is not a host of the run: %v", recap.Hosts)
	}

	tests := []struct {
		name, delegate string
		want           Status
		msg            string
	}{
		{"unknown host", "pg9", StatusFailed, `delegate_to "pg9": no such inventory host`},
		{"unreachable delegate", "pg4", StatusUnreachable, "connect pg4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lab := newFakeLab("pg4")
			pb := playbook(fakeStep(t, lab, "d", `{id: d}`, func(s *Step) { s.DelegateTo = tt.delegate }))
			pb.Hosts = "pg1"
			_, log := runFake(t, pb, fakeInventory(4), lab)
			if e := log.end("pg1", "d"); e.Status != tt.want || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("ended %s %q, want %s %q", e.Status, e.Msg, tt.want, tt.msg)
			}
		})
	}
}

func TestCheckAndDiffReachTheStep(t *testing.T) {
	for _, diff := range []bool{false, true} {
		lab := newFakeLab()
		pb := playbook(fakeStep(t, lab, "a", `{id: a, diff: true, changed: true}`))
		_, log := runFake(t, pb, fakeInventory(1), lab, func(o *RunOptions) { o.Check, o.Diff = true, diff })
		r, _ := lab.find("pg1", "a")
		if !r.Check || r.Diff != diff {
			t.Errorf("diff %v: target had check %v diff %v", diff, r.Check, r.Diff)
		}
		if got := len(log.end("pg1", "a").Diffs); got != map[bool]int{false: 0, true: 1}[diff] {
			t.Errorf("diff %v: step_end has %d diffs", diff, got)
		}
	}
}

func TestSelectSteps(t *testing.T) {
	steps := []*Step{
		{Name: "setup", Tags: []string{"always"}},
		{Name: "stop", Tags: []string{"stop", "pg"}},
		{Name: "plain"},
		{Name: "debug", Tags: []string{"never", "debug"}},
		{Name: "start", Tags: []string{"start", "pg"}},
	}
	tests := []struct {
		name          string
		tags, skip    []string
		startAt       string
		want          []string
		wantErrSubstr string
	}{
		{name: "everything but never", want: []string{"setup", "stop", "plain", "start"}},
		{name: "tags select, always stays", tags: []string{"stop"}, want: []string{"setup", "stop"}},
		{name: "a shared tag", tags: []string{"pg"}, want: []string{"setup", "stop", "start"}},
		{name: "never runs when named", tags: []string{"debug"}, want: []string{"setup", "debug"}},
		{name: "all does not include never", tags: []string{"all"}, want: []string{"setup", "stop", "plain", "start"}},
		{name: "untagged", tags: []string{"untagged"}, want: []string{"setup", "plain"}},
		{name: "tagged", tags: []string{"tagged"}, want: []string{"setup", "stop", "start"}},
		{name: "skip tags", skip: []string{"pg"}, want: []string{"setup", "plain"}},
		{name: "skip always explicitly", skip: []string{"always"}, want: []string{"stop", "plain", "start"}},
		{name: "skip wins over tags", tags: []string{"pg"}, skip: []string{"start"}, want: []string{"setup", "stop"}},
		{name: "start at", startAt: "plain", want: []string{"plain", "start"}},
		{name: "start at with tags", startAt: "plain", tags: []string{"pg"}, want: []string{"start"}},
		{name: "start at an unknown step", startAt: "Stop", wantErrSubstr: `start at step "Stop": no such step (steps: "setup", "stop",`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SelectSteps(steps, tt.tags, tt.skip, tt.startAt)
			if tt.wantErrSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstr) {
					t.Fatalf("error %v, want %q", err, tt.wantErrSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("selected %v, want %v", names, tt.want)
			}
		})
	}
}

func TestRunTagsAndStartAt(t *testing.T) {
	lab := newFakeLab()
	pb := playbook(
		fakeStep(t, lab, "a", `{id: a}`),
		fakeStep(t, lab, "b", `{id: b}`, func(s *Step) { s.Tags = []string{"x"} }),
		fakeStep(t, lab, "c", `{id: c}`),
	)
	recap, log := runFake(t, pb, fakeInventory(1), lab, func(o *RunOptions) { o.StartAt = "b"; o.SkipTags = []string{"x"} })
	if got := lab.ids("pg1"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("ran %v, want only c", got)
	}
	if recap.Hosts["pg1"] != (HostRecap{OK: 1}) || len(log.of("pg1")) != 2 {
		t.Errorf("recap %+v, events %v: unselected steps must not appear", recap.Hosts["pg1"], log.of("pg1"))
	}
}

func TestEventStream(t *testing.T) {
	lab := newFakeLab()
	pb := playbook(
		fakeStep(t, lab, "a", `{id: a, lines: [one, two], progress: true, changed: true, msg: did it}`),
		fakeStep(t, lab, "b", `{id: b, diff: true}`),
	)
	recap, log := runFake(t, pb, fakeInventory(1), lab, func(o *RunOptions) { o.Diff = true })
	want := []string{
		"step_start a",
		"output a stdout:one",
		"output a stdout:two",
		"progress a copy 50/100",
		"progress a copy 100/100",
		"step_end a changed",
		"step_start b",
		"step_end b ok",
	}
	if got := log.of("pg1"); !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", joinLines(got), joinLines(want))
	}
	if e := log.end("pg1", "a"); e.Msg != "did it" || e.DurationMS < 0 {
		t.Errorf("step_end %+v", e)
	}
	if d := log.end("pg1", "b").Diffs; len(d) != 1 || d[0].Path != "/etc/x.conf" {
		t.Errorf("diffs %+v", d)
	}
	last := log.events[len(log.events)-1]
	if last.Type != EventRecap || last.Hosts["pg1"] != recap.Hosts["pg1"] {
		t.Errorf("last event %+v, want the recap", last)
	}
	for i := 1; i < len(log.events); i++ {
		if log.events[i].Time.Before(log.events[i-1].Time) || log.events[i].Time.IsZero() {
			t.Fatalf("event %d time %v goes back or is unset", i, log.events[i].Time)
		}
	}
}
