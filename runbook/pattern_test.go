package runbook

import (
	"reflect"
	"testing"
)

func TestMatch(t *testing.T) {
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern string
		want    []string
		err     string
	}{
		{"all", []string{"pg1", "bastion", "pg2", "pg3", "web1"}, ""},
		{"*", []string{"pg1", "bastion", "pg2", "pg3", "web1"}, ""},
		{"pg2", []string{"pg2"}, ""},
		{"db", []string{"pg1", "pg2", "pg3"}, ""},
		{"standbys", []string{"pg2", "pg3"}, ""},
		{"pg*", []string{"pg1", "pg2", "pg3"}, ""},
		{"pg[23]", []string{"pg2", "pg3"}, ""},
		{"stand*", []string{"pg2", "pg3"}, ""},
		{"web1:pg1", []string{"pg1", "web1"}, ""},
		{"web1,pg1", []string{"pg1", "web1"}, ""},
		{"db:&standbys", []string{"pg2", "pg3"}, ""},
		{"db:!standbys", []string{"pg1"}, ""},
		{"!db", []string{"bastion", "web1"}, ""},
		{"&standbys", []string{"pg2", "pg3"}, ""},
		{"db:!pg2:web1", []string{"pg1", "pg3", "web1"}, ""},
		{"!pg3:db:&standbys", []string{"pg2"}, ""},
		{"old_primary:&standbys", []string{}, ""},
		{" pg1 , pg2 ", []string{"pg1", "pg2"}, ""},
		{"dbz", nil, `pattern "dbz" matches no host or group`},
		{"db:&nope", nil, `pattern "db:&nope": "nope" matches no host or group`},
		{"zz*", nil, `pattern "zz*" matches no host or group`},
		{"pg[", nil, `pattern "pg[": bad glob "pg[": syntax error in pattern`},
		{"", nil, "empty host pattern"},
		{"db::pg1", nil, `pattern "db::pg1" has an empty part`},
		{"db:!", nil, `pattern "db:!" has an empty part`},
	}
	for _, tt := range tests {
		hosts, err := inv.Match(tt.pattern)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Match(%q) error = %v, want %s", tt.pattern, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Match(%q): %v", tt.pattern, err)
			continue
		}
		names := []string{}
		for _, h := range hosts {
			names = append(names, h.Name)
		}
		if !reflect.DeepEqual(names, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.pattern, names, tt.want)
		}
	}
}

func TestMatchBuiltInGo(t *testing.T) {
	// Inventories built in Go (as the executor's tests do) need no all group.
	inv := &Inventory{
		Hosts:  map[string]*Host{"b": {Name: "b"}, "a": {Name: "a"}},
		Groups: map[string]*Group{"g": {Name: "g", Hosts: []string{"b"}}},
	}
	hosts, err := inv.Match("all:!g")
	if err != nil || len(hosts) != 1 || hosts[0].Name != "a" {
		t.Fatalf("Match = %v, %v", hosts, err)
	}
}
