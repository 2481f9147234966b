package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/steps"
)

// The rejoin playbooks, from the repository's playbooks directory.
const (
	rejoinPlaybook     = "../../playbooks/rejoin.yml"
	rejoinPG95Playbook = "../../playbooks/rejoin-pg95.yml"
)

// TestRejoinValidatesOnVagrant checks that playbooks/rejoin.yml parses and
// validates against the Vagrant lab's inventory, whose VMs cannot boot
// here, and that the conninfos it derives from the inventory point at the
// new primary without a password.
func TestRejoinValidatesOnVagrant(t *testing.T) {
	inv, err := runbook.LoadInventory("../../testenv/vagrant/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := runbook.LoadPlaybook(rejoinPlaybook, steps.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := runbook.SelectHosts(pb, inv, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].Name != "pg1" {
		t.Fatalf("rejoin selects %v on the Vagrant lab, want pg1", hosts)
	}
	if err := runbook.Validate(pb, inv, hosts, nil); err != nil {
		t.Fatalf("validate rejoin.yml against the Vagrant inventory: %v", err)
	}
	vars := inv.HostVars(hosts[0], pb, nil)
	for _, tc := range []struct{ name, want string }{
		{"source", "host=10.77.0.12 port=5432 user=rewind dbname=postgres passfile=/var/lib/postgresql/.pgpass"},
		{"primary_conninfo", "host=10.77.0.12 port=5432 user=rewind passfile=/var/lib/postgresql/.pgpass application_name=pg1 keepalives_idle=60"},
		{"restore_command", "cp /var/lib/postgresql/arch/%f %p"},
		{"archive_command", "test ! -f /var/lib/postgresql/arch/%f && cp %p /var/lib/postgresql/arch/%f"},
		{"conf_file", "/etc/postgresql/15/main/postgresql.conf"},
	} {
		if got := vars[tc.name]; got != tc.want {
			t.Errorf("%s of pg1 = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRejoinPG95Validates checks that playbooks/rejoin-pg95.yml validates
// against the seed's two nodes and derives the seed's conninfos.
func TestRejoinPG95Validates(t *testing.T) {
	inv, err := runbook.LoadInventory(filepath.Join(writeFiles(t, t.TempDir(), map[string]string{
		"inventory.yml": fmt.Sprintf(pg95Inventory, "/data02/pgdata95/pg_root"),
	}), "inventory.yml"))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := runbook.LoadPlaybook(rejoinPG95Playbook, steps.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := runbook.SelectHosts(pb, inv, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].Name != "db1" {
		t.Fatalf("rejoin-pg95 selects %v, want db1", hosts)
	}
	if err := runbook.Validate(pb, inv, hosts, nil); err != nil {
		t.Fatalf("validate rejoin-pg95.yml: %v", err)
	}
	vars := inv.HostVars(hosts[0], pb, nil)
	for _, tc := range []struct{ name, want string }{
		// The seed's pg_rewind --source-server, without its password.
		{"source", "host=127.0.0.1 port=1923 user=postgres dbname=postgres"},
		{"primary_conninfo", "host=127.0.0.1 port=1923 user=postgres keepalives_idle=60"},
		{"restore_command", "cp /data03/pgdata95/pg_arch/%f %p"},
		{"archive_command", "test ! -f /data02/pgdata95/pg_arch/%f && cp %p /data02/pgdata95/pg_arch/%f"},
	} {
		if got := vars[tc.name]; got != tc.want {
			t.Errorf("%s of db1 = %q, want %q", tc.name, got, tc.want)
		}
	}
}
