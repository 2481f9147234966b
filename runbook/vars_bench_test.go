package runbook

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkValidateFleet validates a playbook for a 1000-host inventory:
// per-host work must stay linear in the number of hosts (hostvars and
// groups are built once per inventory, not once per host).
func BenchmarkValidateFleet(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("all:\n  vars: {a: 1, b: \"{{ .a }}x\"}\n  hosts:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "    h%d: {address: 10.0.%d.%d, x: \"{{ .inventory_hostname }}\"}\n", i, i/250, i%250)
	}
	path := filepath.Join(b.TempDir(), "inv.yml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	pb, err := LoadPlaybook("testdata/rejoin.yml", ptKinds())
	if err != nil {
		b.Fatal(err)
	}
	pb.Hosts = "all"
	extra := map[string]any{"jobs": 1, "pgdata": "/x", "cluster": "c"}
	for b.Loop() {
		inv, err := LoadInventory(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := Validate(pb, inv, nil, extra); err == nil {
			b.Fatal("want the delegate_to error of rejoin.yml's bastion-less fleet")
		}
	}
}
