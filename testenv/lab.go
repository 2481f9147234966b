package testenv

import (
	"fmt"
	"path/filepath"
)

// LoginUser is the OS user every lab host logs SSH clients in as.
const LoginUser = "pgrb"

// Lab is a running lab: its hosts and the files a client needs to reach
// them. It is saved as lab.json in the state directory, so that another
// process can Open it by name.
type Lab struct {
	Name     string `json:"name"`
	StateDir string `json:"state_dir"`
	// Subnet is the lab's network as seen from the root namespace, where
	// the executor runs: 10.77.K.0/24.
	Subnet string `json:"subnet"`
	// HostSubnet is where the database hosts live: Subnet without a
	// bastion, the bastion's inner network with one.
	HostSubnet string `json:"host_subnet"`
	// Hosts are the database hosts, in the order of the Spec.
	Hosts []*Host `json:"hosts"`
	// Bastion is the bastion host, or nil.
	Bastion *Host `json:"bastion,omitempty"`
	// Inventory is the path of inventory.yml.
	Inventory string `json:"inventory"`
	// Key is the path of the client's private key (OpenSSH format, 0600);
	// Key+".pub" is its public half.
	Key string `json:"key"`
	// KnownHosts is the path of a known_hosts file with every host's key.
	KnownHosts string `json:"known_hosts"`
	// SSHConfig is the path of an ssh_config for OpenSSH's client, so that
	// `ssh -F SSHConfig pg1` works by hand.
	SSHConfig string `json:"ssh_config"`
	// RemoteDir is the remote_dir of the inventory's all.vars, used on the
	// bastion; each database host overrides it with its own Dirs.RemoteDir.
	RemoteDir string `json:"remote_dir"`
	// OwnerPID and OwnerStart identify the process that owns an ephemeral
	// lab (see Spec.OwnerPID); zero for a lab that lives until Down.
	OwnerPID   int    `json:"owner_pid,omitempty"`
	OwnerStart uint64 `json:"owner_start,omitempty"`
	// Slots are the subnet numbers K the lab holds.
	Slots []int `json:"slots"`
	// Postgres says the database hosts run PostgreSQL (Spec.Postgres).
	Postgres bool `json:"postgres,omitempty"`
	// Clusters are the lab's PostgreSQL clusters, in order; empty without
	// Postgres.
	Clusters []*Cluster `json:"clusters,omitempty"`
	// HostCPU is each host's CPU budget in CPUs (Spec.HostCPU); zero when
	// the hosts share this machine's CPUs freely.
	HostCPU float64 `json:"host_cpu,omitempty"`

	// rewindPassword is the rewind role's password, known only to the
	// process that brought the lab up: it goes into the inventory and the
	// passfiles, never into lab.json.
	rewindPassword string
}

// Host is one lab host: a network namespace with an address and an sshd.
type Host struct {
	Name string `json:"name"`
	// Namespace is the network namespace, for `ip netns exec`.
	Namespace string `json:"namespace"`
	// Address is the host's IPv4 address; sshd listens on Address:Port.
	Address string `json:"address"`
	Port    int    `json:"port"`
	// Bastion names the host clients hop through, or is empty.
	Bastion string `json:"bastion,omitempty"`
	// Dirs are the host's own directories on the shared filesystem.
	Dirs HostDirs `json:"dirs"`
	// Veth is the host's end of its link as seen from the bridge's side
	// (root namespace, or the bastion's namespace behind a bastion).
	Veth string `json:"veth"`
	// Cluster names the PostgreSQL cluster the host belongs to; empty
	// without Postgres and for the bastion.
	Cluster string `json:"cluster,omitempty"`
	// CPUCgroup is the directory of the cgroup that holds every process
	// of the host, with its CPU budget (Spec.HostCPU); empty without one.
	CPUCgroup string `json:"cpu_cgroup,omitempty"`
}

// HostDirs are one host's directories. All lab hosts share this machine's
// filesystem, so each gets its own, or two clusters would fight over the
// same data directory and unix socket.
type HostDirs struct {
	// Root is the host's directory, <state>/hosts/<name>; the sshd files
	// (sshd_config, host key, pid file, log) live there.
	Root string `json:"root"`
	// DataDir is the PGDATA of the host's cluster (empty, owned by
	// postgres, 0700). With Spec.Postgres it is <root>/pg/data and holds
	// the running cluster.
	DataDir string `json:"data_dir"`
	// SocketDir is the cluster's unix_socket_directories (owned by
	// postgres).
	SocketDir string `json:"socket_dir"`
	// ArchiveDir is where the host's cluster archives WAL (owned by
	// postgres). With Spec.Postgres it is the archive the host shares with
	// the other hosts of its cluster, <state>/archive/<cluster>.
	ArchiveDir string `json:"archive_dir"`
	// RemoteDir is the host's remote_dir, where the executor uploads the
	// pgrunbook binary (world-writable with the sticky bit, like /tmp,
	// because the login user uploads and postgres runs and writes reports).
	RemoteDir string `json:"remote_dir"`
	// PassFile is the libpq password file of the host's postgres user
	// (owned by postgres, 0600), holding the rewind role's password; a
	// conninfo names it with passfile=, since all hosts share one
	// ~postgres/.pgpass. Empty without Postgres.
	PassFile string `json:"pass_file,omitempty"`
}

// Host returns the host called name (a database host or the bastion), or
// nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.allHosts() {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// SSHAddr is the host:port an SSH client dials for the host (through the
// bastion, when it has one).
func (h *Host) SSHAddr() string { return fmt.Sprintf("%s:%d", h.Address, h.Port) }

// allHosts returns the bastion first, then the database hosts.
func (l *Lab) allHosts() []*Host {
	if l.Bastion == nil {
		return l.Hosts
	}
	return append([]*Host{l.Bastion}, l.Hosts...)
}

func (l *Lab) host(name string) (*Host, error) {
	h := l.Host(name)
	if h == nil {
		return nil, fmt.Errorf("lab %s: no host %q", l.Name, name)
	}
	return h, nil
}

func (l *Lab) statePath(name string) string { return filepath.Join(l.StateDir, name) }

// sshd's files of a host.
func (h *Host) sshdConfig() string { return filepath.Join(h.Dirs.Root, "sshd_config") }
func (h *Host) hostKey() string    { return filepath.Join(h.Dirs.Root, "ssh_host_ed25519_key") }
func (h *Host) pidFile() string    { return filepath.Join(h.Dirs.Root, "sshd.pid") }
func (h *Host) sshdLog() string    { return filepath.Join(h.Dirs.Root, "sshd.log") }
