package runbook

import (
	"reflect"
	"testing"
)

func TestLoadInventory(t *testing.T) {
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatalf("LoadInventory: %v", err)
	}
	if got, want := inv.Groups["all"].Hosts, []string{"pg1", "bastion", "pg2", "pg3", "web1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("all hosts = %v, want %v (order of first appearance)", got, want)
	}
	depths := map[string]int{"all": 0, "db": 1, "standbys": 2, "old_primary": 1, "web": 1}
	for name, want := range depths {
		if g := inv.Groups[name]; g == nil || g.Depth != want {
			t.Errorf("group %s = %+v, want depth %d", name, g, want)
		}
	}
	if got, want := inv.Groups["db"].Hosts, []string{"pg1", "pg2", "pg3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("db hosts = %v, want %v", got, want)
	}
	if got, want := inv.Groups["db"].Children, []string{"standbys"}; !reflect.DeepEqual(got, want) {
		t.Errorf("db children = %v, want %v", got, want)
	}
	tests := []struct {
		host   string
		vars   map[string]any
		groups []string
	}{
		{"pg1", map[string]any{"address": "10.77.0.11", "role": "old_primary"}, []string{"all", "db", "old_primary"}},
		{"pg2", map[string]any{"address": "10.77.0.12", "role": "standby"}, []string{"all", "db", "standbys"}},
		{"pg3", map[string]any{"address": "10.77.0.13", "port": 2222, "role": "standby"}, []string{"all", "db", "standbys"}},
		{"bastion", map[string]any{"address": "10.77.0.2"}, []string{"all"}},
	}
	for _, tt := range tests {
		h := inv.Hosts[tt.host]
		if h == nil {
			t.Errorf("host %s missing", tt.host)
			continue
		}
		if !reflect.DeepEqual(h.Vars, tt.vars) {
			t.Errorf("host %s vars = %#v, want %#v", tt.host, h.Vars, tt.vars)
		}
		if !reflect.DeepEqual(h.Groups, tt.groups) {
			t.Errorf("host %s groups = %v, want %v", tt.host, h.Groups, tt.groups)
		}
	}
}

func TestLoadInventoryDiamond(t *testing.T) {
	inv, err := LoadInventory("testdata/diamond-inventory.yml")
	if err != nil {
		t.Fatalf("LoadInventory: %v", err)
	}
	if d := inv.Groups["shared"].Depth; d != 2 {
		t.Errorf("shared depth = %d, want 2 (its longest path: all -> db -> shared)", d)
	}
	if got := inv.HostVars(inv.Hosts["pg1"], nil, nil)["level"]; got != "shared" {
		t.Errorf("level = %v, want shared (deeper group wins)", got)
	}
	if got, want := inv.Hosts["pg1"].Groups, []string{"all", "shared", "db"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pg1 groups = %v, want %v", got, want)
	}
	if hosts, err := inv.Match("empty"); err != nil || len(hosts) != 0 {
		t.Errorf("Match(empty) = %v, %v; want no hosts and no error", hosts, err)
	}
}
