package runbook

import (
	"reflect"
	"testing"
)

func TestHostVarsPrecedence(t *testing.T) {
	inv, err := LoadInventory("testdata/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := LoadPlaybook("testdata/rejoin.yml", ptKinds())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host  string
		extra map[string]any
		want  map[string]any
	}{
		// all < db (depth 1) < standbys (depth 2) < host < playbook < extra.
		{"pg2", nil, map[string]any{"pgdata": "/srv/standby/15/main", "cluster": "db1", "user": "root", "port": 5432,
			"role": "standby", "address": "10.77.0.12"}},
		{"pg1", map[string]any{"role": "x", "new_primary": "10.77.0.13"}, map[string]any{"pgdata": "/srv/pg/15/main",
			"role": "x", "source": "host=10.77.0.13 port=5432 user=rewind dbname=postgres"}},
		// An unquoted 0077 stays the text written, not YAML 1.1 octal.
		{"bastion", nil, map[string]any{"pgdata": "/var/lib/postgresql/15/main", "port": 5432, "inventory_hostname": "bastion", "umask": "0077"}},
		// A group var wins over the same var of all.
		{"web1", nil, map[string]any{"cluster": "none"}},
	}
	for _, tt := range tests {
		got := inv.HostVars(inv.Hosts[tt.host], pb, tt.extra)
		for k, want := range tt.want {
			if !reflect.DeepEqual(got[k], want) {
				t.Errorf("%s: %s = %#v, want %#v", tt.host, k, got[k], want)
			}
		}
	}
	vars := inv.HostVars(inv.Hosts["pg1"], pb, nil)
	if got, want := vars["groups"].(map[string]any)["db"], []string{"pg1", "pg2", "pg3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("groups.db = %#v, want %#v", got, want)
	}
	out, err := Render(`{{ (index .hostvars "pg3").address }}:{{ (index .hostvars "pg3").port }}`, vars)
	if err != nil || out != "10.77.0.13:2222" {
		t.Errorf("hostvars render = %q, %v", out, err)
	}
	vars["pgdata"] = "changed"
	if again := inv.HostVars(inv.Hosts["pg1"], pb, nil); again["pgdata"] != "/srv/pg/15/main" {
		t.Errorf("changing the returned map changed the next call: %v", again["pgdata"])
	}
}

func TestParseExtraVars(t *testing.T) {
	tests := []struct {
		in      []string
		want    map[string]any
		wantErr bool
	}{
		{[]string{"port=5432", "on=true", "ratio=0.5", "name=pg1", "empty=", "n=null", "eq=a=b", "d=2001-12-14", "mode=0700", "hex=0x1F", "neg=-3"},
			map[string]any{"mode": "0700", "hex": "0x1F", "neg": -3, "port": 5432, "on": true, "ratio": 0.5, "name": "pg1", "empty": "", "n": "null", "eq": "a=b", "d": "2001-12-14"}, false},
		{[]string{"noequals"}, nil, true},
		{[]string{"a.b=1"}, nil, true},
		{[]string{"=1"}, nil, true},
		{[]string{"hostvars=1"}, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseExtraVars(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseExtraVars(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseExtraVars(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestHostVarsTemplatedInventory(t *testing.T) {
	inv, err := LoadInventory("testdata/templated-inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	vars := inv.HostVars(inv.Hosts["pg1"], nil, map[string]any{"home": "/root"})
	want := map[string]any{"ssh_key": "/root/.ssh/id_ed25519", "peers": "pg1,pg2", "primary_addr": "10.77.0.11"}
	for k, w := range want {
		if vars[k] != w {
			t.Errorf("%s = %#v, want %#v", k, vars[k], w)
		}
	}
	// A variable that cannot be rendered is left out rather than shipped
	// with its braces; Validate says why, at the line that defines it.
	vars = inv.HostVars(inv.Hosts["pg2"], nil, nil)
	if _, ok := vars["broken"]; ok {
		t.Errorf("broken = %#v, want it left out", vars["broken"])
	}
	pb := &Playbook{File: "inline.yml", Hosts: "all"}
	err = Validate(pb, inv, nil, nil)
	want2 := `testdata/templated-inventory.yml:12:7: host pg2: variable "broken": variable "undefined_thing" is not defined`
	if err == nil || err.Error() != want2 {
		t.Errorf("Validate = %v\nwant %s", err, want2)
	}
}

func TestHostVarsSeeOtherHosts(t *testing.T) {
	inv, err := LoadInventory("testdata/templated-inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	vars := inv.HostVars(inv.Hosts["pg2"], nil, nil)
	out, err := Render(`{{ (index .hostvars "pg1").ssh_key }} {{ (index .hostvars "pg1").inventory_hostname }}`, vars)
	if err != nil || out != "/home/ops/.ssh/id_ed25519 pg1" {
		t.Errorf("render hostvars = %q, %v", out, err)
	}
	if _, nested := vars["hostvars"].(map[string]any)["pg1"].(map[string]any)["primary_addr"]; nested {
		t.Errorf("hostvars entry kept a variable that needs hostvars itself")
	}
}
