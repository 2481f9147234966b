package runbook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// brokenWant is one error a broken file must produce: its exact place and
// a fragment of its message.
type brokenWant struct {
	pos  string // "line:col"
	frag string
}

// TestBrokenPlaybooks loads every file of testdata/broken, each breaking one
// rule, and checks that every error is reported, at its exact place.
// Playbooks that parse are then validated against testdata/inventory.yml.
func TestBrokenPlaybooks(t *testing.T) {
	const unknownStep = `unknown key "whne" in step (did you mean "when"? options: name, when,`
	tests := []struct {
		file string
		want []brokenWant
	}{
		// Loading: structure and syntax.
		{"unknown_top_key.yml", []brokenWant{
			{"1:1", "playbook has no hosts"},
			{"2:1", `unknown key "hostz" in playbook (known: name, hosts, become, vars, serial, max_fail_percentage, steps)`}}},
		{"list_of_plays.yml", []brokenWant{{"1:1", "a playbook is one play"}}},
		{"missing_hosts.yml", []brokenWant{{"1:1", "playbook has no hosts"}}},
		{"unknown_step_option.yml", []brokenWant{{"6:5", `step "stop": ` + unknownStep}}},
		{"unknown_kind.yml", []brokenWant{{"5:5", `step "stop": unknown key "fake_stp" in step (did you mean "fake_stop"?`}}},
		{"unknown_param_key.yml", []brokenWant{
			{"7:7", `step "rewind": unknown key "jbos" in fake_rewind (known: pgdata, source_server, jobs, opts, set, targets)`}}},
		{"nested_param_key.yml", []brokenWant{
			{"7:24", `step "rewind": unknown key "wiat" in fake_rewind.opts (known: wait, debug)`},
			{"10:11", `step "rewind": unknown key "pth" in fake_rewind.targets[1] (known: path)`}}},
		{"scalar_params.yml", []brokenWant{{"5:16", `step "stop": fake_stop takes a mapping of parameters, not the string "/var/lib/postgresql"`}}},
		{"zero_kinds.yml", []brokenWant{{"4:5", `step "nothing to do": step has no step kind (one of: fake_command, fake_rewind, fake_stop)`}}},
		{"two_kinds.yml", []brokenWant{{"6:5", `step "stop and rewind": step has 2 step kinds (fake_stop, fake_rewind); a step has exactly one`}}},
		{"missing_name.yml", []brokenWant{{"6:5", "step 2 has no name"}}},
		{"empty_name.yml", []brokenWant{
			{"4:11", "step 1 has an empty name"},
			{"6:11", "name must be a string, not a list"}}},
		{"duplicate_name.yml", []brokenWant{{"6:11", `step "stop": duplicate step name (first used at line 4)`}}},
		{"duplicate_key.yml", []brokenWant{{"7:5", `step "stop": duplicate key "when" in step`}}},
		{"bad_yaml.yml", []brokenWant{{"5:1", "yaml syntax: did not find expected ',' or '}'"}}},
		{"bad_serial.yml", []brokenWant{{"3:9", "serial must be a number of hosts N or a percentage P%, not the number 0"}}},
		{"bad_serial_percent.yml", []brokenWant{{"3:9", `serial must be a number of hosts N or a percentage P%, not the string "150%"`}}},
		{"bad_max_fail.yml", []brokenWant{{"3:22", `max_fail_percentage must be a number from 0 to 100, not the string "lots"`}}},
		{"bad_template.yml", []brokenWant{{"6:15", `step "stop": template "{{ .pgdata }": unexpected "}" in operand`}}},
		{"bad_condition.yml", []brokenWant{{"6:11", `step "stop": when: template "{{ eq .role ( }}": unclosed left paren`}}},
		{"bad_delay.yml", []brokenWant{{"7:12", `step "stop": delay must be a duration such as 5s or a number of seconds, not the string "soon"`}}},
		{"bad_retries.yml", []brokenWant{{"6:14", `step "stop": retries must be a whole number >= 0, not the string "three"`}}},
		{"bad_become.yml", []brokenWant{{"3:9", "true does not say which user"}}},
		{"bad_register.yml", []brokenWant{{"6:15", `step "stop": register "stop-result" is not an identifier`}}},
		{"bad_bool.yml", []brokenWant{{"6:20", `step "stop": ignore_errors must be true or false, not the string "sometimes"`}}},
		{"bad_var_name.yml", []brokenWant{
			{"4:3", `variable name "new-primary" in vars is not an identifier`},
			{"5:3", `variable "hostvars" in vars is set by pgrunbook`}}},
		{"bad_host_pattern.yml", []brokenWant{{"2:8", `hosts: pattern "db:&" has an empty part`}}},
		{"bad_glob.yml", []brokenWant{{"2:8", `hosts: pattern "pg[1": bad glob "pg[1": syntax error in pattern`}}},
		{"many_errors.yml", []brokenWant{
			{"3:1", `unknown key "colour" in playbook`},
			{"6:29", `step "stop": unknown key "mod" in fake_stop (known: pgdata, mode)`},
			{"7:11", `step "stop": duplicate step name (first used at line 5)`},
			{"9:14", `step "stop": retries must be a whole number >= 0, not the number -1`},
			{"10:5", "step 3 has no name"}}},
		// Validation: per host, against the inventory.
		{"unknown_host_pattern.yml", []brokenWant{{"2:8", `hosts: pattern "db:&dbz": "dbz" matches no host or group`}}},
		{"missing_variable.yml", []brokenWant{
			{"4:3", `hosts pg1, pg2, pg3: variable "source": variable "primary" is not defined`},
			{"8:5", `step "rewind": hosts pg1, pg2, pg3: variable "new_primary" is not defined`}}},
		{"missing_variable_condition.yml", []brokenWant{
			{"7:5", `step "rewind": host pg1: when: variable "go" is not defined`},
			{"10:5", `step "late": host pg1: when: variable "later" is not defined`}}},
		{"var_cycle.yml", []brokenWant{
			{"5:3", "host pg1: variables refer to each other in a loop: a -> b -> a"},
			{"7:5", `step "stop": host pg1: variable "a" could not be rendered`}}},
		{"bad_param_type.yml", []brokenWant{
			{"7:13", `step "rewind": host pg1: fake_rewind.jobs: want int, got a string (the value of "{{ .pgdata }}")`},
			{"9:16", `step "rewind": host pg1: fake_rewind.opts.debug: want bool, got a string`}}},
		{"validator.yml", []brokenWant{{"4:5", `step "rewind": host pg1: fake_rewind: pgdata is required`}}},
		{"delegate_unknown.yml", []brokenWant{{"4:5", `step "stop": hosts pg1, pg2, pg3: delegate_to: variable "jump" is not defined`}}},
		// Inventories.
		{"inv_unknown_group_key.yml", []brokenWant{{"6:7", `unknown key "host" in group "db" (known: hosts, children, vars)`}}},
		{"inv_unknown_top.yml", []brokenWant{{"3:1", `unknown key "db" at the top of the inventory`}}},
		{"inv_cycle.yml", []brokenWant{{"7:13", `group "a" contains itself (all -> a -> b -> a)`}}},
		{"inv_bad_host_name.yml", []brokenWant{
			{"3:5", `host name "pg:1" contains one of`},
			{"4:5", `"all" cannot be a host name`}}},
		{"inv_host_scalar.yml", []brokenWant{{"3:10", `host "pg1" must be a mapping of its variables or empty, not the string "10.77.0.11"`}}},
		{"inv_host_group_clash.yml", []brokenWant{{"3:5", `"db" is both a host and a group`}}},
		{"inv_bad_yaml.yml", []brokenWant{{"3:1", "yaml syntax: found character that cannot start any token"}}},
	}
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "broken", tt.file)
			err := loadBroken(path, inv)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error = %v (%T), want an ErrorList", err, err)
			}
			if len(list) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(list), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i >= len(list) {
					break
				}
				prefix := path + ":" + w.pos + ": "
				if got := list[i].Error(); !strings.HasPrefix(got, prefix) || !strings.Contains(got, w.frag) {
					t.Errorf("error %d = %s\nwant %s...%s", i, got, prefix, w.frag)
				}
			}
		})
	}
	files, _ := os.ReadDir(filepath.Join("testdata", "broken"))
	for _, f := range files {
		if !covered[f.Name()] {
			t.Errorf("testdata/broken/%s has no case in this test", f.Name())
		}
	}
}

// loadBroken loads a broken inventory, or loads and validates a broken
// playbook.
func loadBroken(path string, inv *Inventory) error {
	if strings.HasPrefix(filepath.Base(path), "inv_") {
		_, err := LoadInventory(path)
		if err == nil {
			return fmt.Errorf("inventory %s loaded without error", path)
		}
		return err
	}
	pb, err := LoadPlaybook(path, ptKinds())
	if err != nil {
		return err
	}
	if err := Validate(pb, inv, nil, nil); err != nil {
		return err
	}
	return fmt.Errorf("playbook %s loaded and validated without error", path)
}
