package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/runbook/transport"
)

// exitCode returns the exit code runRun's error asks for.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return -1
}

// writeFiles writes name → content into dir and returns dir.
func writeFiles(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const e2eInventory = `
all:
  hosts:
    pg1: {role: primary}
    pg2: {role: standby}
    pg3: {role: standby}
  vars:
    dir: DIR
    connection: local
`

const e2ePlaybook = `
name: end to end
hosts: all
serial: 2
vars:
  marker: "{{ .dir }}/{{ .inventory_hostname }}"
steps:
  - name: who
    command: "echo {{ .role }}"
    register: who
    changed_when: "false"
  - name: primary only
    command: "touch {{ .marker | quote }}.primary"
    # Under --check the command does not run and registers no output.
    when: and (gt (len .who.stdout_lines) 0) (eq (index .who.stdout_lines 0) "primary")
  - name: a file
    file: {path: "{{ .marker }}.file", state: present}
  - name: refuse pg3
    command: "test {{ .inventory_hostname }} != pg3"
  - name: after
    command:
      argv: [touch, "{{ .marker }}.after"]
`

func TestRunEndToEndFromYAML(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("run: the hosts of this test are this machine (connection: local) and file steps need root; CI runs as root")
	}
	dir := t.TempDir()
	files := writeFiles(t, t.TempDir(), map[string]string{
		"inventory.yml": strings.ReplaceAll(e2eInventory, "DIR", dir),
		"playbook.yml":  e2ePlaybook,
	})
	opts := runOptions{inventory: filepath.Join(files, "inventory.yml"), forks: 5, output: "json"}
	playbook := filepath.Join(files, "playbook.yml")

	// Under --check nothing changes and nothing fails.
	check := opts
	check.check = true
	var out bytes.Buffer
	if err := runRun(context.Background(), check, []string{playbook}, &out); err != nil {
		t.Fatalf("check run: %v\n%s", err, out.String())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("--check changed the host: %v", left)
	}

	for run := 1; run <= 2; run++ {
		out.Reset()
		err := runRun(context.Background(), opts, []string{playbook}, &out)
		if exitCode(err) != runbook.ExitFailed || !strings.Contains(err.Error(), "failed: pg3") {
			t.Fatalf("run %d: error %v (exit %d), want exit 3 naming pg3\n%s", run, err, exitCode(err), out.String())
		}
		recap := lastRecap(t, out.Bytes())
		// The file step reports changed only the first time.
		fileChanged := map[int]int{1: 1, 2: 0}[run]
		want := map[string]runbook.HostRecap{
			"pg1": {OK: 5, Changed: 3 + fileChanged},
			"pg2": {OK: 4, Changed: 2 + fileChanged, Skipped: 1},
			"pg3": {OK: 2, Changed: fileChanged, Skipped: 1, Failed: 1},
		}
		for h, w := range want {
			if recap[h] != w {
				t.Errorf("run %d: %s = %+v, want %+v", run, h, recap[h], w)
			}
		}
	}
	for _, f := range []string{"pg1.primary", "pg1.file", "pg1.after", "pg2.file", "pg2.after", "pg3.file"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	for _, f := range []string{"pg2.primary", "pg3.primary", "pg3.after"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s exists, the step must not have run", f)
		}
	}

	// Text output: host-prefixed lines and the recap table.
	out.Reset()
	text := opts
	text.output, text.limit = "text", "pg1"
	if err := runRun(context.Background(), text, []string{playbook}, &out); err != nil {
		t.Fatalf("text run on pg1: %v\n%s", err, out.String())
	}
	for _, want := range []string{"PLAY [end to end] ****", "\nhosts: pg1\n", "STEP [who] ****", "pg1 | primary\n", "pg1 | ok: who (", "PLAY RECAP ****",
		"pg1 : ok=5    changed=3    unreachable=0    failed=0    skipped=0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
}

// lastRecap checks that the JSON stream ends with the recap and returns it.
func lastRecap(t *testing.T, out []byte) map[string]runbook.HostRecap {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var last struct {
		Type  string                       `json:"type"`
		Hosts map[string]runbook.HostRecap `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != "recap" {
		t.Fatalf("last line is not a recap (%v): %s", err, lines[len(lines)-1])
	}
	return last.Hosts
}

func TestRunUsageErrorsExit2BeforeAnythingRuns(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"inventory.yml": "all:\n  hosts:\n    pg1: {address: 127.0.0.1}\n",
		"good.yml":      "name: g\nhosts: all\nsteps:\n  - name: s\n    command: \"echo {{ .address }}\"\n",
		"unknown.yml":   "name: u\nhosts: all\nsteps:\n  - name: s\n    command: true\n    retires: 3\n",
		"missing.yml":   "name: m\nhosts: all\nsteps:\n  - name: s\n    command: \"echo {{ .nosuch }}\"\n",
	})
	inv := filepath.Join(dir, "inventory.yml")
	good := filepath.Join(dir, "good.yml")
	connected := false
	never := func(ctx context.Context, h *runbook.Host, vars map[string]any) (transport.Conn, error) {
		connected = true
		return nil, errors.New("must not connect")
	}
	base := runOptions{inventory: inv, forks: 5, output: "text", connect: never}
	tests := []struct {
		name string
		args []string
		mod  func(*runOptions)
		want string
	}{
		{name: "no playbook", args: nil, want: "want exactly one PLAYBOOK"},
		{name: "no inventory", args: []string{good}, mod: func(o *runOptions) { o.inventory = "" }, want: "an inventory is required"},
		{name: "bad output", args: []string{good}, mod: func(o *runOptions) { o.output = "yaml" }, want: `--output "yaml"`},
		{name: "zero forks", args: []string{good}, mod: func(o *runOptions) { o.forks = 0 }, want: "--forks 0"},
		{name: "missing inventory file", args: []string{good}, mod: func(o *runOptions) { o.inventory = filepath.Join(dir, "none.yml") }, want: "none.yml"},
		{name: "unknown step option", args: []string{filepath.Join(dir, "unknown.yml")}, want: "unknown.yml:6:5"},
		{name: "missing variable", args: []string{filepath.Join(dir, "missing.yml")}, want: `"nosuch"`},
		{name: "bad extra var", args: []string{good}, mod: func(o *runOptions) { o.extra = []string{"novalue"} }, want: "novalue"},
		{name: "limit matches nothing", args: []string{good}, mod: func(o *runOptions) { o.limit = "nosuch" }, want: "nosuch"},
		{name: "unknown start step", args: []string{good}, mod: func(o *runOptions) { o.startAt = "nope" }, want: `start at step "nope"`},
		{name: "bad serial", args: []string{good}, mod: func(o *runOptions) { o.serial = "lots" }, want: `serial "lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			if tt.mod != nil {
				tt.mod(&opts)
			}
			var out bytes.Buffer
			err := runRun(context.Background(), opts, tt.args, &out)
			if exitCode(err) != runbook.ExitUsage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v (exit %d), want exit 2 with %q", err, exitCode(err), tt.want)
			}
		})
	}
	if connected {
		t.Error("a host was contacted although the run could not start")
	}
}

func TestRunCommandLine(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"inventory.yml": "all:\n  hosts:\n    pg1: {address: 127.0.0.1}\n",
	})
	tests := []struct {
		args []string
		want int
	}{
		{args: []string{"run"}, want: runbook.ExitUsage},
		{args: []string{"run", "a.yml", "b.yml", "-i", "x"}, want: runbook.ExitUsage},
		{args: []string{"run", "a.yml", "--no-such-flag"}, want: runbook.ExitUsage},
		{args: []string{"run", filepath.Join(dir, "none.yml"), "-i", filepath.Join(dir, "inventory.yml"), "-e", "a=1", "-e", "b=2,3",
			"--tags", "x,y", "--skip-tags", "z", "-f", "2", "--serial", "50%", "--check", "--diff", "-o", "json"}, want: runbook.ExitUsage},
	}
	for _, tt := range tests {
		if got := execute(context.Background(), tt.args); got != tt.want {
			t.Errorf("pgrunbook %v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
	// The flags land in the options struct.
	cmd := newRunCmd()
	if err := cmd.ParseFlags([]string{"-i", "inv.yml", "-e", "a=1", "-e", "b=2,3", "--tags", "x,y", "--skip-tags", "z",
		"-f", "2", "--serial", "50%", "--check", "--diff", "-o", "json", "-l", "pg1", "--start-at-step", "s"}); err != nil {
		t.Fatal(err)
	}
	f := cmd.Flags()
	for name, want := range map[string]string{"inventory": "inv.yml", "extra-vars": `[a=1,"b=2,3"]`, "tags": "[x,y]",
		"skip-tags": "[z]", "forks": "2", "serial": "50%", "check": "true", "diff": "true", "output": "json",
		"limit": "pg1", "start-at-step": "s"} {
		if got := f.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s = %s, want %s", name, got, want)
		}
	}
}
