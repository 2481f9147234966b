package testenv

import (
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
)

// BaseDir is where the lab keeps what outlives one process: default state
// directories, the subnet allocations and the per-lab locks.
const BaseDir = "/var/lib/pgrunbook/lab"

// MaxHosts bounds the number of database hosts of one lab; it keeps veth
// names within the kernel's 15 characters and addresses within the /24.
const MaxHosts = 99

// BastionName is the inventory name (and namespace suffix) of the bastion.
const BastionName = "bastion"

// Spec describes the lab Up brings up.
type Spec struct {
	// Name prefixes every namespace, bridge and veth of the lab: 1 to 10
	// characters, a lowercase letter first, then lowercase letters and
	// digits. Interface names are NAME plus at most 3 characters, within
	// the kernel's limit of 15.
	Name string
	// Hosts is the number of database hosts, named pg1..pgN; ignored when
	// HostNames is set. Zero means 1.
	Hosts int
	// HostNames names the database hosts explicitly, in order.
	HostNames []string
	// Bastion puts the database hosts behind a bastion host that is the
	// only way in.
	Bastion bool
	// StateDir holds the lab's generated files; empty means
	// BaseDir/<Name>.
	StateDir string
	// Postgres gives every database host a PostgreSQL 15 cluster, running
	// inside the host's namespace: the first host of each cluster is its
	// primary, the others are streaming standbys (see postgres.go).
	Postgres bool
	// Clusters is the number of independent PostgreSQL clusters the
	// database hosts are split into, in order and as evenly as possible
	// (pg1,pg2 -> a; pg3,pg4 -> b). Zero means 1; it needs Postgres.
	Clusters int
	// OwnerPID, when non-zero, marks the lab as belonging to that process:
	// once the process is gone, any later Up may tear the lab down. ForTest
	// sets it, so labs of crashed test binaries do not pile up.
	OwnerPID int
	// HostCPU, when positive, gives every host of the lab (the bastion
	// too) a CPU budget of its own of that many CPUs (0.2: a fifth of one
	// CPU), as separate machines have, instead of letting all hosts share
	// this machine's CPUs: each host gets a cgroup with a CFS quota, and
	// every process of the host runs in it (its sshd, so everything
	// started over SSH, and its PostgreSQL). The processes that use the
	// lab from the root namespace, such as an executor, stay outside.
	// Zero, the default, gives no budgets; at least MinHostCPU, at most
	// this machine's CPUs. CheckHostCPU says whether the machine can.
	HostCPU float64
}

var (
	labNamePattern  = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`)
	hostNamePattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,19}$`)
)

// normalize checks s and fills in its defaults.
func (s Spec) normalize() (Spec, error) {
	if !labNamePattern.MatchString(s.Name) {
		return s, fmt.Errorf("lab name %q: want 1 to 10 of [a-z0-9], starting with a letter", s.Name)
	}
	if len(s.HostNames) == 0 {
		n := s.Hosts
		if n == 0 {
			n = 1
		}
		if n < 0 || n > MaxHosts {
			return s, fmt.Errorf("lab %s: %d hosts: want 1 to %d", s.Name, n, MaxHosts)
		}
		for i := 1; i <= n; i++ {
			s.HostNames = append(s.HostNames, fmt.Sprintf("pg%d", i))
		}
	}
	if len(s.HostNames) > MaxHosts {
		return s, fmt.Errorf("lab %s: %d hosts: want at most %d", s.Name, len(s.HostNames), MaxHosts)
	}
	s.Hosts = len(s.HostNames)
	seen := map[string]bool{}
	for _, h := range s.HostNames {
		if !hostNamePattern.MatchString(h) {
			return s, fmt.Errorf("lab %s: host name %q: want 1 to 20 of [a-z0-9], starting with a letter", s.Name, h)
		}
		if seen[h] {
			return s, fmt.Errorf("lab %s: host name %q given twice", s.Name, h)
		}
		if h == BastionName && s.Bastion {
			return s, fmt.Errorf("lab %s: host name %q is the bastion's", s.Name, h)
		}
		seen[h] = true
	}
	if s.HostCPU != 0 && (s.HostCPU < MinHostCPU || s.HostCPU > float64(runtime.NumCPU())) {
		return s, fmt.Errorf("lab %s: host CPU budget %g: want 0 (none) or %g to %d CPUs", s.Name, s.HostCPU, MinHostCPU, runtime.NumCPU())
	}
	if err := s.normalizeClusters(); err != nil {
		return s, err
	}
	if s.StateDir == "" {
		s.StateDir = DefaultStateDir(s.Name)
	}
	abs, err := filepath.Abs(s.StateDir)
	if err != nil {
		return s, fmt.Errorf("lab %s: state dir %s: %w", s.Name, s.StateDir, err)
	}
	s.StateDir = abs
	return s, nil
}

// DefaultStateDir is the state directory of the lab called name when its
// Spec does not set one.
func DefaultStateDir(name string) string { return filepath.Join(BaseDir, name) }
