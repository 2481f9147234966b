package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
)

// TestPlaybookParams loads a playbook that uses every kind through the
// runbook parser, renders each step for a host and checks the decoded
// parameters: the yaml tags, the custom Mode and Duration types and the
// command shorthand all have to survive strict parsing and templating.
func TestPlaybookParams(t *testing.T) {
	const playbook = `name: all generic kinds
hosts: all
become: postgres
vars:
  pgdata: /var/lib/postgresql/15/main
steps:
  - name: status
    command: "pg_ctlcluster 15 main status"
  - name: argv
    command: {argv: [pg_ctl, -D, "{{ .pgdata }}", status], creates: "{{ .pgdata }}/postmaster.pid", env: {PGPORT: "5432"}}
  - name: archive dir
    file: {path: /var/lib/postgresql/arch, state: directory, mode: 0700, owner: postgres}
  - name: recovery.conf back
    rename: {src: "{{ .pgdata }}/recovery.done", dest: "{{ .pgdata }}/recovery.conf"}
  - name: settings
    conf:
      path: "{{ .pgdata }}/postgresql.auto.conf"
      set: {port: 5432, hot_standby: true, primary_conninfo: "host=10.77.0.12 user=rewind"}
      unset: [restore_command]
  - name: hba
    copy: {src: files/pg_hba.conf, dest: "{{ .pgdata }}/pg_hba.conf", mode: "0640"}
  - name: port
    wait: {port: 5432, timeout: 90s, interval: 2}
  - name: in recovery
    sql: {conninfo: "host=127.0.0.1 user=postgres", query: "SELECT pg_is_in_recovery()"}
`
	path := filepath.Join(t.TempDir(), "play.yml")
	if err := os.WriteFile(path, []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	pb, err := runbook.LoadPlaybook(path, Kinds())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	vars := map[string]any{"pgdata": "/var/lib/postgresql/15/main"}
	acts := map[string]runbook.Action{}
	for _, s := range pb.Steps {
		a, err := s.Action(vars)
		if err != nil {
			t.Fatalf("step %s: %v", s.Name, err)
		}
		acts[s.Name] = a
	}
	if c := acts["status"].(*Command); c.Cmd != "pg_ctlcluster 15 main status" {
		t.Errorf("shorthand cmd = %q", c.Cmd)
	}
	if c := acts["argv"].(*Command); strings.Join(c.Argv, " ") != "pg_ctl -D /var/lib/postgresql/15/main status" || c.Env["PGPORT"] != "5432" {
		t.Errorf("argv command = %+v", c)
	}
	if f := acts["archive dir"].(*File); f.Mode == nil || *f.Mode != 0o700 {
		t.Errorf("file mode = %v", f.Mode)
	}
	if c := acts["hba"].(*Copy); c.Mode == nil || *c.Mode != 0o640 {
		t.Errorf("copy mode = %v", c.Mode)
	}
	if w := acts["port"].(*Wait); w.Timeout != Duration(90e9) || w.Interval != Duration(2e9) {
		t.Errorf("wait durations = %v %v", w.Timeout, w.Interval)
	}
	c := acts["settings"].(*Conf)
	text, _, err := c.edit(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hot_standby = on\nport = 5432\nprimary_conninfo = 'host=10.77.0.12 user=rewind'\n"; string(text) != want {
		t.Errorf("conf edit of an empty file:\n%s\nwant\n%s", text, want)
	}
}

// TestPlaybookRejects checks that the parser reports misspelt and invalid
// parameters of our kinds before anything runs.
func TestPlaybookRejects(t *testing.T) {
	tests := []struct{ step, want string }{
		{`file: {path: /x, mdoe: "0600"}`, `unknown key "mdoe"`},
		{`command: {cmd: x, argv: [y]}`, "argv and cmd are exclusive"},
		{`file: {path: /x, mode: "0800"}`, "invalid mode"},
		{`wait: {port: 1, timeout: soon}`, "invalid duration"},
		{`conf: {path: /x}`, "nothing to set or unset"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "play.yml")
		src := "name: bad\nhosts: all\nsteps:\n  - name: bad step\n    " + tt.step + "\n"
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		pb, err := runbook.LoadPlaybook(path, Kinds())
		if err == nil {
			_, err = pb.Steps[0].Action(nil)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v; want %q", tt.step, err, tt.want)
		}
	}
}
