package testenv

import (
	"context"
	"os"
)

// Status is what `pgrunbook lab status` shows: the lab's files and, per
// host, whether it is there and answering.
type Status struct {
	Name       string
	StateDir   string
	Subnet     string
	HostSubnet string
	Inventory  string
	Key        string
	KnownHosts string
	SSHConfig  string
	// Hosts lists the bastion first (when there is one), then the database
	// hosts.
	Hosts []HostStatus
}

// HostStatus is one host's part of Status.
type HostStatus struct {
	Name      string
	Role      string // "db" or "bastion"
	Address   string
	Port      int
	Namespace string
	// NamespaceUp says the host's network namespace exists.
	NamespaceUp bool
	// SSHDPID is the pid of the host's listening sshd, 0 when none runs.
	SSHDPID int
	// Cluster is the PostgreSQL cluster of a database host; empty without
	// Postgres.
	Cluster string
	// PGRole is the role of the host's PostgreSQL server now, "primary" or
	// "standby": asked of the server when it runs, read from its data
	// directory (standby.signal) when it does not; empty without Postgres.
	PGRole string
	// PGUp says the host's PostgreSQL server runs and answers.
	PGUp bool
}

// SSHDAlive reports whether the host's sshd runs.
func (h HostStatus) SSHDAlive() bool { return h.SSHDPID != 0 }

// Status inspects the lab's hosts.
func (l *Lab) Status(ctx context.Context) (Status, error) {
	st := Status{
		Name: l.Name, StateDir: l.StateDir, Subnet: l.Subnet, HostSubnet: l.HostSubnet,
		Inventory: l.Inventory, Key: l.Key, KnownHosts: l.KnownHosts, SSHConfig: l.SSHConfig,
	}
	for _, h := range l.allHosts() {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		role := DBGroup
		if h == l.Bastion {
			role = BastionName
		}
		_, err := os.Stat(netnsPath(h.Namespace))
		hs := HostStatus{
			Name: h.Name, Role: role, Address: h.Address, Port: h.Port, Namespace: h.Namespace,
			NamespaceUp: err == nil, SSHDPID: sshdPID(h),
		}
		if l.Postgres && h != l.Bastion {
			hs.Cluster = h.Cluster
			hs.PGRole, hs.PGUp = l.pgStatus(ctx, h)
		}
		st.Hosts = append(st.Hosts, hs)
	}
	return st, nil
}
