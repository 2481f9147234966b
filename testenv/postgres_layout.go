package testenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// The PostgreSQL side of a lab: which host belongs to which cluster, and
// where each cluster keeps its files. Like the network layout, it follows
// from the Spec alone.

// PGPort is the port of every lab cluster. Each host has its own network
// stack and its own socket directory, so they never collide.
const PGPort = 5432

// PGBinDir holds the PostgreSQL 15 programs on the lab hosts (Debian's
// layout, as on the Vagrant VMs).
const PGBinDir = "/usr/lib/postgresql/15/bin"

// RewindRole is the role the lab creates for rewinds and streaming: LOGIN
// REPLICATION with a password, the four EXECUTE grants a non-superuser
// pg_rewind source needs, and CONNECT on the postgres database.
const RewindRole = "rewind"

// Inventory groups of a lab with Postgres. Playbooks rely on these names;
// DBGroup holds every database host.
const (
	// PrimariesGroup holds each cluster's primary at lab up.
	PrimariesGroup = "primaries"
	// StandbysGroup holds each cluster's streaming standbys at lab up.
	StandbysGroup = "standbys"
	// OldPrimaryGroup holds the hosts the failover drill demotes: the
	// first host (the primary) of each cluster.
	OldPrimaryGroup = "old_primary"
)

// maxClusters keeps cluster names to one letter.
const maxClusters = 26

// Cluster is one PostgreSQL cluster of a lab: a primary and its streaming
// standbys, sharing one WAL archive.
type Cluster struct {
	// Name is the cluster's name, "a", "b", ... in order.
	Name string `json:"name"`
	// Primary is the host name of the primary at lab up.
	Primary string `json:"primary"`
	// Standbys are the host names of its streaming standbys, in order.
	Standbys []string `json:"standbys,omitempty"`
	// ArchiveDir is the cluster's WAL archive, <state>/archive/<name>:
	// every host of the cluster archives into it and restores from it, as
	// real clusters share archive storage (owned by postgres, 0700).
	ArchiveDir string `json:"archive_dir"`
}

// NewPrimary is the standby the failover drill promotes: the first one,
// or "" for a cluster without standbys.
func (c *Cluster) NewPrimary() string {
	if len(c.Standbys) == 0 {
		return ""
	}
	return c.Standbys[0]
}

// Hosts returns the cluster's host names, primary first.
func (c *Cluster) Hosts() []string { return append([]string{c.Primary}, c.Standbys...) }

// Cluster returns the lab's cluster called name, or nil.
func (l *Lab) Cluster(name string) *Cluster {
	for _, c := range l.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// normalizeClusters checks the PostgreSQL part of s and fills in its
// default; s.Hosts is already set.
func (s *Spec) normalizeClusters() error {
	if !s.Postgres {
		if s.Clusters != 0 && s.Clusters != 1 {
			return fmt.Errorf("lab %s: %d clusters without Postgres", s.Name, s.Clusters)
		}
		return nil
	}
	if s.Clusters == 0 {
		s.Clusters = 1
	}
	if s.Clusters < 1 || s.Clusters > maxClusters || s.Clusters > s.Hosts {
		return fmt.Errorf("lab %s: %d clusters: want 1 to %d, and at most one per host (%d hosts)",
			s.Name, s.Clusters, min(maxClusters, s.Hosts), s.Hosts)
	}
	return nil
}

// clusterName is the name of cluster i (from 0).
func clusterName(i int) string { return string(rune('a' + i)) }

// layoutPostgres splits the database hosts into n clusters, in order and
// as evenly as possible (the first clusters take the odd hosts), and
// places each host's PostgreSQL files: its data directory at
// <root>/pg/data (the cluster directory keeps the server log beside it),
// its archive shared with its cluster, its passfile at <root>/pgpass.
func (l *Lab) layoutPostgres(n int) {
	l.Postgres = true
	next := 0
	for i := range n {
		size := len(l.Hosts) / n
		if i < len(l.Hosts)%n {
			size++
		}
		c := &Cluster{
			Name:       clusterName(i),
			ArchiveDir: filepath.Join(l.StateDir, "archive", clusterName(i)),
		}
		for j, h := range l.Hosts[next : next+size] {
			if j == 0 {
				c.Primary = h.Name
			} else {
				c.Standbys = append(c.Standbys, h.Name)
			}
			h.Cluster = c.Name
			h.Dirs.DataDir = filepath.Join(h.pgDir(), "data")
			h.Dirs.ArchiveDir = c.ArchiveDir
			h.Dirs.PassFile = filepath.Join(h.Dirs.Root, "pgpass")
			if len(h.Dirs.SocketDir)+len(socketFileName) > maxSocketPath {
				h.Dirs.SocketDir = filepath.Join(shortSocketBase(l.Name), h.Name)
			}
		}
		next += size
		l.Clusters = append(l.Clusters, c)
	}
}

// A unix socket's path must fit sun_path (108 bytes with its NUL); deep
// state directories (t.TempDir() of a long test name) do not leave room
// for hosts/NAME/sock/.s.PGSQL.5432.
const (
	maxSocketPath  = 107
	socketFileName = "/.s.PGSQL.5432"
)

// shortSocketBase holds the socket directories of a lab whose state
// directory is too deep for them; Down removes it.
func shortSocketBase(lab string) string { return filepath.Join(os.TempDir(), "pgrb-"+lab) }

// pgDir is the directory pgcluster manages for the host: the data
// directory and the server log. It is not the host's root, which holds
// sshd's files and must stay searchable by the login user.
func (h *Host) pgDir() string { return filepath.Join(h.Dirs.Root, "pg") }

// pgLogFile is the host's server log.
func (h *Host) pgLogFile() string { return filepath.Join(h.pgDir(), "postgres.log") }
