package main

import (
	"testing"

	"github.com/pgrunbook/pgrunbook/runbook"
	"github.com/pgrunbook/pgrunbook/steps"
)

// drillPlaybook is the failover drill, from the repository's playbooks
// directory.
const drillPlaybook = "../../playbooks/drill.yml"

// TestDrillValidatesOnVagrant checks that playbooks/drill.yml parses and
// validates against the Vagrant lab's inventory, whose VMs cannot boot
// here: every variable it uses is defined there, on every host it selects.
func TestDrillValidatesOnVagrant(t *testing.T) {
	inv, err := runbook.LoadInventory("../../testenv/vagrant/inventory.yml")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := runbook.LoadPlaybook(drillPlaybook, steps.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := runbook.SelectHosts(pb, inv, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].Name != "pg1" {
		t.Fatalf("drill selects %v on the Vagrant lab, want pg1", hosts)
	}
	if err := runbook.Validate(pb, inv, hosts, nil); err != nil {
		t.Fatalf("validate drill.yml against the Vagrant inventory: %v", err)
	}
	// The peers the drill cuts pg1 off from: the other hosts of cluster a.
	vars := inv.HostVars(hosts[0], pb, nil)
	if got := vars["peers"]; got != "10.77.0.12 10.77.0.13 " {
		t.Errorf("peers of pg1 = %q, want pg2's and pg3's addresses", got)
	}
}
