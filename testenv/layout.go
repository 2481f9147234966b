package testenv

import (
	"fmt"
	"path/filepath"
)

// The layout of a lab: names and addresses follow from the Spec and the
// subnet slots alone, so that a crashed lab can be found and removed by its
// name.

// Host numbers inside a /24: the bridge is .1, the bastion .2 and database
// host i (from 0) is .11+i.
const (
	bridgeHostNum  = 1
	bastionHostNum = 2
	firstHostNum   = 11
)

// outerBridge is the lab's bridge in the root namespace.
func outerBridge(lab string) string { return lab + "b0" }

// innerBridge is the bridge of the database hosts inside the bastion's
// namespace.
func innerBridge(lab string) string { return lab + "b1" }

// vethName is the bridge-side end of host i's link (1-based; 0 is the
// bastion).
func vethName(lab string, i int) string { return fmt.Sprintf("%sv%d", lab, i) }

// namespaceName is the network namespace of a lab host.
func namespaceName(lab, host string) string { return lab + "-" + host }

// slotAddr is 10.77.slot.num.
func slotAddr(slot, num int) string { return fmt.Sprintf("10.77.%d.%d", slot, num) }

// slotPrefix is 10.77.slot.0/24.
func slotPrefix(slot int) string { return fmt.Sprintf("10.77.%d.0/24", slot) }

// layout builds the Lab value for spec (normalized) on the given slots: one
// without a bastion, two (outer, inner) with one.
func layout(spec Spec, slots []int) *Lab {
	st := spec.StateDir
	l := &Lab{
		Name:       spec.Name,
		StateDir:   st,
		Subnet:     slotPrefix(slots[0]),
		HostSubnet: slotPrefix(slots[0]),
		Inventory:  filepath.Join(st, "inventory.yml"),
		Key:        filepath.Join(st, "id_ed25519"),
		KnownHosts: filepath.Join(st, "known_hosts"),
		SSHConfig:  filepath.Join(st, "ssh_config"),
		RemoteDir:  filepath.Join(st, "remote"),
		Slots:      slots,
	}
	hostSlot := slots[0]
	bastion := ""
	if spec.Bastion {
		hostSlot = slots[1]
		l.HostSubnet = slotPrefix(hostSlot)
		bastion = BastionName
		l.Bastion = newHost(spec.Name, BastionName, st, slotAddr(slots[0], bastionHostNum), vethName(spec.Name, 0), "")
	}
	for i, name := range spec.HostNames {
		h := newHost(spec.Name, name, st, slotAddr(hostSlot, firstHostNum+i), vethName(spec.Name, i+1), bastion)
		l.Hosts = append(l.Hosts, h)
	}
	if spec.Postgres {
		l.layoutPostgres(spec.Clusters)
	}
	return l
}

func newHost(lab, name, stateDir, addr, veth, bastion string) *Host {
	root := filepath.Join(stateDir, "hosts", name)
	return &Host{
		Name:      name,
		Namespace: namespaceName(lab, name),
		Address:   addr,
		Port:      22,
		Bastion:   bastion,
		Veth:      veth,
		Dirs: HostDirs{
			Root:       root,
			DataDir:    filepath.Join(root, "data"),
			SocketDir:  filepath.Join(root, "sock"),
			ArchiveDir: filepath.Join(root, "archive"),
			RemoteDir:  filepath.Join(root, "remote"),
		},
	}
}
