package runbook

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRunFromYAML runs a playbook and inventory parsed from YAML, so that
// what the parser produces (serial, max_fail_percentage, delays, tags,
// become, templates) is what the executor acts on.
func TestRunFromYAML(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"inventory.yml": `
all:
  vars:
    user: pgrb
  hosts:
    pg1: {address: 10.77.0.11}
    pg2: {address: 10.77.0.12}
    pg3: {address: 10.77.0.13}
    pg4: {address: 10.77.0.14}
    pg5: {address: 10.77.0.15}
  children:
    db:
      hosts: {pg1: , pg2: , pg3: , pg4: , pg5: }
      vars: {dbuser: postgres}
`,
		"playbook.yml": `
name: from yaml
hosts: db
become: "{{ .dbuser }}"
serial: 40%
max_fail_percentage: 20
vars:
  greeting: "hello {{ .inventory_hostname }}"
steps:
  - name: greet
    fake: {id: greet, echo: "{{ .greeting }}"}
    register: g
  - name: flaky
    fake: {id: flaky, succeed_at: 2, fail_on: [pg3, pg4]}
    retries: 1
    delay: 0
  - name: tagged off
    fake: {id: off}
    tags: [never, debug]
  - name: as root
    fake: {id: root, echo: "{{ .g.stdout }}"}
    become: root
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lab := newFakeLab()
	kinds := []*Kind{fakeKind(lab)}
	inv, err := LoadInventory(filepath.Join(dir, "inventory.yml"))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := LoadPlaybook(filepath.Join(dir, "playbook.yml"), kinds)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := SelectHosts(pb, inv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(pb, inv, hosts, nil); err != nil {
		t.Fatal(err)
	}
	log := &eventLog{}
	recap, err := Run(context.Background(), RunOptions{Playbook: pb, Inventory: inv, Connect: lab.connect, Events: log.add})
	if err != nil {
		t.Fatal(err)
	}
	// Batches of 40% of 5 hosts: pg1 pg2 | pg3 pg4 | pg5. The second batch
	// fails both hosts: 2 of 5 is over the 20% budget, so pg5 never starts.
	want := map[string]HostRecap{
		"pg1": {OK: 3}, "pg2": {OK: 3},
		"pg3": {OK: 1, Failed: 1}, "pg4": {OK: 1, Failed: 1},
		"pg5": {},
	}
	for h, w := range want {
		if recap.Hosts[h] != w {
			t.Errorf("%s = %+v, want %+v", h, recap.Hosts[h], w)
		}
	}
	if !slices.Equal(recap.NotStarted, []string{"pg5"}) || !strings.Contains(recap.Aborted, "2 of 5 hosts failed") {
		t.Errorf("not started %v, aborted %q", recap.NotStarted, recap.Aborted)
	}
	if got := lab.attempts["pg1/flaky"]; got != 2 {
		t.Errorf("flaky ran %d times on pg1, want 2 (one retry)", got)
	}
	r, _ := lab.find("pg2", "root")
	g, _ := lab.find("pg2", "greet")
	if r.Become != "root" || g.Become != "postgres" || r.Echo != "hello pg2" {
		t.Errorf("greet as %q, root step as %q saw %q", g.Become, r.Become, r.Echo)
	}
	if _, ok := lab.find("pg1", "off"); ok {
		t.Error("a step tagged never ran")
	}
	if recap.ExitCode() != ExitFailed {
		t.Errorf("exit %d", recap.ExitCode())
	}
}
